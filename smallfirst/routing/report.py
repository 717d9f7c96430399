"""Rich table of a router benchmark summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{100 * v:.1f}%" if pct else f"{v:.3f}"
    return str(v)


def _pm(e: Mapping[str, Any], key: str, pct: bool = False) -> str:
    v = e.get(key)
    if v is None:
        return "–"
    sd = e.get(f"{key}_sd")
    return _fmt(float(v), pct) + (f" ± {_fmt(float(sd), pct)}" if sd else "")


def _band(b: Mapping[str, Any], key: str, pct: bool = False) -> str:
    v = b.get(key)
    return f"{_fmt(float(v[0]), pct)}–{_fmt(float(v[1]), pct)}" if v else "–"


def held_out_table(title: str, routers: Mapping[str, Any], null: Mapping[str, Any], tiers: list[str],
                   caption: str, target: str = "q95") -> Any:
    """Realised figures at thresholds chosen on training data only, one row per router plus the null band."""
    from rich.table import Table

    t = Table(title=title, caption=caption)
    cols = ["router", "cost", "cost vs always " + tiers[-1], "quality", f"share of {tiers[-1]}'s",
            "target met" if target == "q95" else "max mix error", "mix " + "/".join(tiers)]
    for c in cols:
        t.add_column(c, justify="left" if c == "router" else "right")
    for name, e in routers.items():
        h = (e.get("held_out") or {}).get(target)
        if not h:
            continue
        mix = "/".join(f"{100 * v:.0f}" for v in h["mix"].values())
        last = _pm(h, "met", True) if target == "q95" else _pm(h, "mix_error", True)
        t.add_row(name, _pm(h, "cost"), _pm(h, "cost_share", True), _pm(h, "quality"), _pm(h, "quality_share", True),
                  last, mix)
    nb = null.get(target) or {}
    if nb:
        t.add_row("[dim]null band (random scores)[/]", _band(nb, "cost"), _band(nb, "cost_share", True),
                  _band(nb, "quality"), _band(nb, "quality_share", True),
                  _band(nb, "met", True) if target == "q95" else "–", "")
    return t


def print_summary(summary: Mapping[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    tiers = summary["tiers"]
    two = len(tiers) == 2
    con = Console()
    if not con.is_terminal:
        con = Console(width=150)  # files and pipes: do not squeeze the table into 80 columns
    head = (f"router bench {summary.get('label', '')}: n={summary['n']}, {summary['folds']}-fold CV × "
            f"{len(summary['seeds'])} seed(s), tiers {' → '.join(tiers)}")
    ho = summary.get("held_out")
    if ho:
        for target, what in ho["targets"].items():
            con.print(held_out_table(f"{head}\nwhat you get — thresholds chosen on the training folds only, for "
                                     f"{what}", summary["routers"], ho["null_band"], tiers,
                                     "fold mean, then mean ± sd over seeds; cost in " + summary["cost_unit"]
                                     + " units", target))
    t = Table(caption="APGR … 95%: per test fold, mean over folds then seeds; pooled: all out-of-fold "
                      "scores as one curve", title=f"{head}\noracle-threshold view (optimistic: thresholds "
                                                   "picked on the test data)")
    cols = ["router"]
    if two:
        cols += ["APGR", "± sd", "CPT(50%)", "CPT(80%)", f"{tiers[-1]} calls for 95%", "APGR pooled",
                 "c@95% pooled", "AUC"]
    cols += ["AIQ", f"cost for 95% of {tiers[-1]}", "quality at ½ budget"]
    for c in cols:
        t.add_column(c, justify="left" if c == "router" else "right")
    for name, e in summary["routers"].items():
        row = [f"[bold]{name}[/]" if name == summary.get("best") else name]
        if two:
            row += [_fmt(e.get("apgr")), _fmt(e.get("apgr_sd")), _fmt(e.get("cpt50"), True),
                    _fmt(e.get("cpt80"), True), _fmt(e.get("c_at_95"), True), _fmt(e.get("apgr_pooled")),
                    _fmt(e.get("c_at_95_pooled"), True), _fmt(e.get("auc_pooled"))]
        aiq = _fmt(e.get("aiq"))
        if e.get("aiq_sd"):
            aiq += f" ± {e['aiq_sd']:.3f}"
        if e.get("beats_null_band") is False:
            aiq += " (in null band)"
        row += [aiq, _fmt(e.get("cost_95")), _fmt(e.get("q_at_50"))]
        t.add_row(*row)
    con.print(t)
    always = ", ".join(f"always {k}: quality {v['quality']:.4f}" for k, v in summary["always"].items())
    con.print(f"{always}; 95% of {tiers[-1]} = {summary['quality_95']:.4f}")
    band = summary.get("null_band") or {}
    if band.get("aiq"):
        lo, hi = band["aiq"]
        cost = band.get("cost_95")
        con.print(f"null band (random scores through the same threshold sweep): AIQ {lo:.3f}–{hi:.3f}"
                  + (f", cost for 95% {cost[0]:.3f}–{cost[1]:.3f}" if cost else "")
                  + "; a router inside it has shown nothing a coin could not")
    cross = summary.get("cross_domain") or {}
    if cross.get("domains"):
        print_cross(con, cross, tiers)
    elif cross.get("skipped"):
        con.print(f"cross-domain: skipped ({cross['skipped']})")


def print_cross(con: Any, cross: Mapping[str, Any], tiers: list[str]) -> None:
    """One table per held-out domain: the realised figures (training-domain thresholds), then the sweep's."""
    for d, e in cross["domains"].items():
        title = (f"cross-domain: train on the other {cross['by']}s ({e['n_train']} prompts), test on {d} "
                 f"({e['n_test']})")
        con.print(held_out_table(title, e["routers"], e["held_out_null_band"], tiers,
                                 "thresholds for 95% of the top tier's quality, calibrated on the training domains"))
        band = e.get("null_band") or {}
        parts = []
        for name, r in e["routers"].items():
            fig = (f"APGR {_fmt(r.get('apgr'))}, AUC {_fmt(r.get('auc'))}" if len(tiers) == 2
                   else f"AIQ {_fmt(r.get('aiq'))}")
            parts.append(f"{name} {fig}")
        null = (f"null APGR {_band(band, 'apgr')}" if len(tiers) == 2 else f"null AIQ {_band(band, 'aiq')}")
        con.print(f"  oracle-threshold view on {d}: " + "; ".join(parts) + f" ({null})")
