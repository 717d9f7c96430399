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


def print_summary(summary: Mapping[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    tiers = summary["tiers"]
    two = len(tiers) == 2
    t = Table(caption="APGR … 95%: per test fold, mean over folds then seeds; pooled: all out-of-fold "
                      "scores as one curve", title=f"router bench {summary.get('label', '')}: n={summary['n']}, "
                    f"{summary['folds']}-fold CV × {len(summary['seeds'])} seed(s), tiers {' → '.join(tiers)}")
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
    con = Console()
    if not con.is_terminal:
        con = Console(width=150)  # files and pipes: do not squeeze the table into 80 columns
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
