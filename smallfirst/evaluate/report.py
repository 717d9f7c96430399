"""The eval report: rich tables in the terminal, and one self-contained HTML file with the plots
embedded as base64 PNGs (also written next to it as files)."""

from __future__ import annotations

import base64
import html
import re
import time
from pathlib import Path
from typing import Any

from smallfirst.evaluate.runfile import Run
from smallfirst.evaluate.summary import Summary, TargetStats


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None, fmt: str = ".3f") -> str:
    return "–" if v is None else format(v, fmt)


def _usd(v: float | None) -> str:
    if v is None:
        return "–"
    if v == 0:
        return "$0"
    return f"${v:.2f}" if v >= 1 else f"${v:.3g}"


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.0f}"


TARGET_COLUMNS = ("tier", "model", "done", "fail", "score", "right", "$/1k tasks", "$ total", "p50 ms", "p95 ms",
                  "tok in/out", "conf")


def target_row(t: TargetStats, label: str) -> list[str]:
    tok = "–" if t.prompt_tokens is None else f"{t.prompt_tokens:.0f}/{t.completion_tokens or 0:.0f}"
    per_k = None if t.cost_per_task is None else 1000 * t.cost_per_task
    cost = _usd(per_k) + ("" if t.price_known else " (price unknown)")
    return [label, t.model, f"{t.done}/{t.tasks}", str(t.failed), _num(t.quality), _pct(t.pass_rate), cost,
            _usd(t.cost_usd), _ms(t.latency_p50_ms), _ms(t.latency_p95_ms), tok, _num(t.confidence, ".2f")]


def headlines(s: Summary) -> list[str]:
    """The sentences a reader wants first."""
    out: list[str] = []
    if s.local_tier is not None and s.local_right is not None:
        name = "local tier" if s.local_tier == "local" else f"local tier ({s.local_tier})"
        line = f"The {name} gets {_pct(s.local_right)} of its tasks right (score ≥ {s.pass_threshold:g})"
        if s.local_as_good is not None:
            line += f", and does as well as every dearer tier on {_pct(s.local_as_good)}"
        out.append(line + ".")
    top = s.tiers[-1] if s.tiers else ""
    for r in s.routing:
        if r.name.startswith("by task type"):
            cost = f"{_pct(r.cost_vs_top)} of its cost" if r.cost_vs_top is not None else \
                f"{_usd(r.cost_per_task)} per task"
            out.append(f"Routing by task type would give {_pct(r.quality_vs_top)} of {top} quality at {cost}, "
                       f"with {_pct(r.local_share)} of requests local.")
    if s.cost_for_target is not None:
        out.append(f"The best possible router reaches {100 * s.quality_target:.0f}% of {top} quality at "
                   f"{_pct(s.cost_for_target)} of its cost.")
    pending = sum(t.pending for t in s.targets)
    if pending:
        out.append(f"{pending} (task, target) pair(s) are not done yet: rerun the same command to continue.")
    if s.judge_cost_usd:
        out.append(f"LLM-judge cost: {_usd(s.judge_cost_usd)} (not included in the tier costs).")
    if s.routing and s.complete < s.tasks:
        out.append(f"The routing analysis uses the {s.complete} of {s.tasks} tasks done on every tier.")
    return out


def print_report(s: Summary, title: str = "") -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    lab = s.labels()
    t = Table(title=f"eval {title}: {s.tasks} tasks")
    for c in TARGET_COLUMNS:
        t.add_column(c, justify="left" if c in ("tier", "model") else "right")
    for tg in s.targets:
        t.add_row(*target_row(tg, lab[tg.key]))
    con.print(t)
    if s.by_type:
        bt = Table(title="mean score per task type")
        bt.add_column("type")
        for tg in s.targets:
            bt.add_column(lab[tg.key], justify="right")
        for ty, per in s.by_type.items():
            n = max((c for c, _ in per.values()), default=0)
            bt.add_row(f"{ty} (n={n})", *[_num(per[tg.key][1]) if tg.key in per else "–" for tg in s.targets])
        con.print(bt)
    if s.routing:
        rt = Table(title=f"what routing would give (tier level, {s.complete} tasks)")
        for c in ("routing", "score", f"vs {s.tiers[-1]}", "$/1k tasks", "cost share", "local"):
            rt.add_column(c, justify="left" if c == "routing" else "right")
        for r in s.routing:
            rt.add_row(r.name, _num(r.quality), _pct(r.quality_vs_top), _usd(1000 * r.cost_per_task),
                       _pct(r.cost_vs_top), _pct(r.local_share))
        con.print(rt)
    if s.recommendations:
        rec = Table(title=f"recommendation per task type (cheapest tier within {100 * s.quality_target:.0f}% "
                          "of the best)")
        for c in ("type", "n", "use", "why"):
            rec.add_column(c)
        for rc in s.recommendations:
            rec.add_row(rc.task_type, str(rc.n), f"[bold]{rc.tier}[/]", rc.reason)
        con.print(rec)
    for line in headlines(s):
        con.print(line)


_NUMERIC = re.compile(r"^[-+$–]?[\d$.,/%e+-]*\d[\d.,/%]*$|^–$")


def _td(cell: str) -> str:
    cls = " class='n'" if _NUMERIC.match(cell) else ""
    return f"<td{cls}>{html.escape(cell)}</td>"


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(_td(c) for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.6em 0 1.4em}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%;margin:.4em 0}
.lead li{margin:.2em 0}.muted{color:#777;font-size:12px}"""


def render_html(s: Summary, run: Run, plots: dict[str, bytes]) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>smallfirst eval — "
             f"{html.escape(run.path.name)}</title><style>{_CSS}</style></head><body>",
             f"<h1>smallfirst eval: {html.escape(run.path.name)}</h1>",
             f"<p class='muted'>{s.tasks} tasks · tiers {html.escape(' → '.join(run.tiers))} · tasks file "
             f"{html.escape(str(run.meta.get('tasks_file', '')))} · rendered "
             f"{time.strftime('%Y-%m-%d %H:%M:%S')}</p>"]
    parts.append("<ul class='lead'>" + "".join(f"<li>{html.escape(h)}</li>" for h in headlines(s)) + "</ul>")
    lab = s.labels()
    parts.append("<h2>Per tier / model</h2>" + _table(list(TARGET_COLUMNS),
                                                       [target_row(t, lab[t.key]) for t in s.targets]))
    if "tiers" in plots:
        parts.append(_img(plots["tiers"], "quality, cost and latency per tier"))
    if s.by_type:
        rows = [[f"{ty} (n={max((c for c, _ in per.values()), default=0)})",
                 *[_num(per[t.key][1]) if t.key in per else "–" for t in s.targets]] for ty, per in s.by_type.items()]
        parts.append("<h2>Per task type</h2>" + _table(["type", *[lab[t.key] for t in s.targets]], rows))
        if "types" in plots:
            parts.append(_img(plots["types"], "quality per task type"))
    if s.routing:
        top = s.tiers[-1]
        rows = [[r.name, _num(r.quality), _pct(r.quality_vs_top), _usd(1000 * r.cost_per_task), _pct(r.cost_vs_top),
                 _pct(r.local_share), ", ".join(f"{k} {_pct(v)}" for k, v in r.mix.items())] for r in s.routing]
        parts.append(f"<h2>What routing would give</h2><p class='muted'>tier level, on the {s.complete} tasks done "
                     "on every tier; the oracle knows every answer's score and is an upper bound</p>"
                     + _table(["routing", "score", f"vs {top}", "$/1k tasks", f"vs {top} cost", "local", "mix"],
                              rows))
        if "routing" in plots:
            parts.append(_img(plots["routing"], "cost vs quality"))
    if s.recommendations:
        rows = [[r.task_type, str(r.n), r.tier, ", ".join(f"{k} {v:.2f}" for k, v in r.quality.items()), r.reason]
                for r in s.recommendations]
        parts.append(f"<h2>Recommendation per task type</h2><p class='muted'>the cheapest tier within "
                     f"{100 * s.quality_target:.0f}% of the best tier's mean score</p>"
                     + _table(["type", "n", "use", "mean score per tier", "why"], rows))
    parts.append("</body></html>")
    return "\n".join(parts)


def _img(png: bytes, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"


def write_report(run: Run, s: Summary, path: str | Path | None = None) -> Path:
    """Write ``report.html`` (and the PNGs under ``plots/``) into the run folder, or to ``path``."""
    from smallfirst.evaluate.plots import all_plots

    plots = all_plots(s)
    out = Path(path) if path is not None else run.path / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    folder = out.parent / "plots"
    folder.mkdir(exist_ok=True)
    for name, png in plots.items():
        (folder / f"{name}.png").write_bytes(png)
    out.write_text(render_html(s, run, plots), encoding="utf-8")
    return out


def report_dict(s: Summary) -> dict[str, Any]:
    """The summary as plain JSON-able data (for scripts)."""
    from dataclasses import asdict

    d = asdict(s)
    d["headlines"] = headlines(s)
    return d
