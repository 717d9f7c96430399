"""Plots (matplotlib, Agg) and a standalone HTML page for the overview of :mod:`smallfirst.dashboard.views`.

The HTML file has no external references: CSS is inline and plots are inline SVG.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

COLORS = ("#2e7dd7", "#f0a202", "#8e44ad", "#16a085", "#c0392b", "#7f8c8d")


def _x(ts: float) -> float:
    """Epoch seconds → matplotlib date number."""
    import matplotlib.dates as mdates

    x: float = mdates.date2num(datetime.fromtimestamp(ts, UTC))  # type: ignore[no-untyped-call]
    return x


def _time_axis(ax: Axes, o: Mapping[str, Any]) -> None:
    import matplotlib.dates as mdates

    ax.set_xlim(_x(o["range"]["since_ts"]), _x(o["range"]["until_ts"]))
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def plot_mix(ax: Axes, o: Mapping[str, Any]) -> None:
    names = [t["name"] for t in o["tiers"]]
    points = [p for p in o["series"] if sum(p["served"].values())]
    xs = [_x(p["t"]) for p in points]
    width = o["range"]["bucket_s"] / 86400 * 0.9
    bottom = [0.0] * len(points)
    for i, n in enumerate(names):
        share = [p["served"].get(n, 0) / sum(p["served"].values()) for p in points]
        ax.bar(xs, share, width=width, bottom=bottom, color=COLORS[i % len(COLORS)], label=n, align="edge")
        bottom = [b + s for b, s in zip(bottom, share, strict=True)]
    cum = 0.0
    for n in names[:-1]:
        cum += o["target_mix"].get(n, 0.0)
        ax.axhline(cum, color="#1d2330", linestyle="--", linewidth=1, alpha=0.7)
    ax.set_ylim(0, 1)
    _time_axis(ax, o)
    ax.set_ylabel("share of answered requests")
    ax.set_title("Tier mix over time (dashed: target)")
    ax.legend(loc="lower left", fontsize=8)


def plot_cost(ax: Axes, o: Mapping[str, Any]) -> None:
    rg = o["range"]
    pts: list[tuple[float, float, float]] = [(rg["since_ts"], 0.0, 0.0)]
    a = b = 0.0
    for p in o["series"]:  # flat until the bucket, its cost added by its end
        pts.append((max(p["t"], rg["since_ts"]), a, b))
        a += p["cost_usd"] + p.get("local_cost_usd", 0.0)  # API spend + own hardware
        b += p["baseline_cost_usd"] or 0.0
        pts.append((min(p["t"] + rg["bucket_s"], rg["until_ts"]), a, b))
    pts.append((rg["until_ts"], a, b))
    xs = [_x(p[0]) for p in pts]
    ax.plot(xs, [p[1] for p in pts], color=COLORS[0], label="actual (API + local hardware)")
    if o["cost"]["baseline"]:
        ax.plot(xs, [p[2] for p in pts], color="#8a93a6", linestyle="--",
                label=f"all-frontier ({o['cost']['baseline']['model']})")
    ax.set_ylim(bottom=0)
    _time_axis(ax, o)
    ax.set_ylabel("cumulative USD")
    ax.set_title("Cost vs an all-frontier baseline")
    ax.legend(loc="upper left", fontsize=8)


def plot_latency(ax: Axes, o: Mapping[str, Any]) -> None:
    tiers = [t for t in o["tiers"] if t["latency_p50_ms"] is not None]
    xs = range(len(tiers))
    ax.bar([x - 0.2 for x in xs], [t["latency_p50_ms"] for t in tiers], width=0.4, label="p50", color=COLORS[0])
    ax.bar([x + 0.2 for x in xs], [t["latency_p95_ms"] for t in tiers], width=0.4, label="p95", color=COLORS[1])
    ax.set_xticks(list(xs), [t["name"] for t in tiers])
    ax.set_ylabel("ms")
    ax.set_title("Latency per tier")
    ax.legend(fontsize=8)


def plot_escalations(ax: Axes, o: Mapping[str, Any]) -> None:
    reasons = o["escalations"]["reasons"][:8][::-1]
    ys = range(len(reasons))
    ax.barh(list(ys), [r["count"] for r in reasons], color=COLORS[2], alpha=0.35)
    for y, r in zip(ys, reasons, strict=True):
        ax.text(0, y, f" {r['step']}: {r['reason']}", va="center", fontsize=8)
    ax.set_yticks([])
    ax.set_title("Escalation reasons")
    ax.set_xlabel("requests")
    if not reasons:
        ax.text(0.5, 0.5, "no escalations", ha="center", va="center", transform=ax.transAxes)


PLOTS = (("mix", plot_mix), ("cost", plot_cost), ("latency", plot_latency), ("escalations", plot_escalations))


def figure(o: Mapping[str, Any], which: str | None = None) -> Figure:
    """One plot (``which``) or all four in a 2×2 grid."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    chosen = [p for p in PLOTS if which is None or p[0] == which]
    fig = Figure(figsize=(12, 8) if which is None else (9, 3.6), layout="constrained")
    axes = fig.subplots(2, 2).flatten() if which is None else [fig.subplots()]
    for ax, (_, fn) in zip(axes, chosen, strict=True):
        fn(ax, o)
        ax.grid(alpha=0.25)
        for label in ax.get_xticklabels():
            label.set_fontsize(8)
    return fig


def save_png(o: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure(o).savefig(path, dpi=110)
    return path


def _svg(o: Mapping[str, Any], which: str) -> str:
    buf = io.StringIO()
    figure(o, which).savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _table(head: list[str], rows: list[list[Any]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def kpis(o: Mapping[str, Any]) -> list[tuple[str, str]]:
    t, c, r = o["totals"], o["cost"], o["residency"]
    local = sum(x["share"] for x in o["tiers"] if x["local"])
    target = sum(x["target"] for x in o["tiers"] if x["local"])
    base = f"${c['baseline_usd']:.4f} ({c['baseline']['model']})" if c["baseline"] else "no price"
    return [
        ("Requests", f"{t['requests']:,} ({t['served']:,} answered, {t['errors']:,} errors)"),
        ("Local share", f"{100 * local:.1f} % (target {100 * target:.1f} %)"),
        ("API spend", f"${c['actual_usd']:.4f}"),
        ("Local cost (own hardware)", f"${c['local_usd']:.4f}{local_basis_text(c['local_basis'])}"),
        ("All-frontier baseline", base),
        ("Saved", f"${c['savings_usd']:.4f} ({c['savings_pct']:.1f} %), after API spend and local cost"
         if c["savings_pct"] is not None else "–"),
        ("Escalated", f"{t['escalated']:,} ({100 * t['escalation_rate']:.1f} % of answered)"),
        ("Residency", f"{r['left_host']:,} of {r['sensitive_requests']:,} sensitive requests left this host"),
    ]


def local_basis_text(basis: list[Mapping[str, Any]]) -> str:
    """How local answers are priced, e.g. " (local: $1600 over 2 y at 100 % use + 450 W at $0.3/kWh)"."""
    parts = [f"{b['tier']}: ${b['hardware_usd']:g} over {b['lifetime_years']:g} y at {100 * b['utilisation']:g} % "
             f"use + {b['watts']:g} W at ${b['usd_per_kwh']:g}/kWh = ${b['usd_per_hour']:.4f}/h"
             for b in basis]
    return f" ({'; '.join(parts)})" if parts else ""


def ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def tier_rows(o: Mapping[str, Any]) -> list[list[Any]]:
    return [[t["name"] + (" (on host)" if t["local"] else ""), f"{t['requests']:,}", f"{100 * t['share']:.1f} %",
             f"{100 * t['target']:.1f} %", f"{t['errors']:,}", f"${t['cost_usd']:.4f}",
             f"${t.get('local_cost_usd', 0.0):.4f}", ms(t["latency_p50_ms"]),
             ms(t["latency_p95_ms"]), ms(t["ttft_p50_ms"])] for t in o["tiers"]]


TIER_HEAD = ["tier", "answered", "share", "target", "errors", "API cost", "local cost", "p50 ms", "p95 ms",
             "TTFT p50 ms"]

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#1d2330;padding:0 16px}
h1{font-size:22px}h2{font-size:15px;margin-top:28px;color:#4a5263}table{border-collapse:collapse;width:100%}
th,td{padding:5px 8px;border-bottom:1px solid #e3e6eb;text-align:right}th:first-child,td:first-child{text-align:left}
.kpi td:first-child{color:#6b7385;width:220px}svg{max-width:100%;height:auto}.muted{color:#6b7385;font-size:12px}"""


def render_html(o: Mapping[str, Any], title: str = "smallfirst report") -> str:
    rg = o["range"]
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p class=muted>{html.escape(rg['since'])} → {html.escape(rg['until'])} · bucket {rg['bucket_s']} s"
             f" · generated {datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}</p>",
             "<table class=kpi>" + "".join(f"<tr><td>{html.escape(k)}</td><td style='text-align:left'>"
                                           f"{html.escape(v)}</td></tr>" for k, v in kpis(o)) + "</table>"]
    for name, _ in PLOTS:
        parts.append(f"<h2>{name.capitalize()}</h2>" + _svg(o, name))
    parts.append("<h2>Tiers</h2>" + _table(TIER_HEAD, tier_rows(o)))
    parts.append("<h2>Top task types</h2>" + _table(
        ["task type", "requests", "by tier", "cost"],
        [[x["task_type"], f"{x['count']:,}", ", ".join(f"{k} {v}" for k, v in x["by_tier"].items()),
          f"${x['cost_usd']:.4f}"] for x in o["task_types"]]))
    parts.append("<h2>Escalations</h2>" + _table(
        ["step", "reason", "requests"], [[r["step"], r["reason"], f"{r['count']:,}"]
                                         for r in o["escalations"]["reasons"]]))
    parts.append("<h2>Sensitive data by class</h2>" + _table(
        ["class", "requests", "served by"], [[c["class"], f"{c['count']:,}", ", ".join(
            f"{k} {v}" for k, v in c["tiers"].items())] for c in o["residency"]["by_class"]]))
    parts.append("<h2>Status codes</h2>" + _table(["status", "requests"], [[s["status"], f"{s['count']:,}"]
                                                                            for s in o["status"]]))
    parts.append("".join(f"<p class=muted>{html.escape(n)}</p>" for n in o["notes"]) + "</body></html>")
    return "\n".join(parts)
