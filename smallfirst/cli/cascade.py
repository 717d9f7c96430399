"""`smallfirst cascade calibrate` — pick the acceptance threshold (min_confidence) from outcome data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from smallfirst.cli.app import new_app

app = new_app(no_args_is_help=True, help="The cascade: calibrate acceptance thresholds of task contracts.")


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x:.1%}" if pct else f"{x:.4f}"


@app.command("calibrate")
def calibrate_cmd(
    outcomes: Annotated[str, typer.Argument(help="outcomes JSONL whose checked-tier rows carry 'confidence'")],
    quality: Annotated[float, typer.Option("--quality", help="quality target (mean score in [0, 1])")] = 0.95,
    relative: Annotated[bool, typer.Option("--relative", help="the target is a share of the upper tier's "
                                           "quality (e.g. 0.95 = 95% of always escalating)")] = False,
    tier: Annotated[str | None, typer.Option("--tier", help="the checked tier (default: the cheapest with "
                                             "confidences)")] = None,
    upper: Annotated[str | None, typer.Option("--upper", help="the tier it escalates to (default: the next "
                                              "one)")] = None,
    per_task: Annotated[bool, typer.Option("--per-task", help="one threshold per task label")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="write the result as JSON here")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the result JSON to stdout instead of the table")
                        ] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="write a PNG of quality and local share "
                                              "against the threshold")] = None,
) -> None:
    """Pick the threshold that meets the quality target at the lowest cost; report the local share it keeps."""
    from rich.console import Console
    from rich.table import Table

    from smallfirst.cascade.calibrate import ALL, calibrate, default_tiers
    from smallfirst.core.errors import BadRequestError
    from smallfirst.routing.outcomes import read_outcomes

    rows = read_outcomes(outcomes)
    d_tier, d_upper = default_tiers(rows)
    t = tier or d_tier
    u = upper if upper is not None else (d_upper if tier is None else _next_after(rows, t))
    named = {r.tier for r in rows}
    for name in (t, u):
        if name is not None and name not in named:
            raise BadRequestError(f"no outcomes for tier {name!r}",
                                  hint=f"the file has tiers: {', '.join(sorted(named))}")
    tasks = [ALL]
    if per_task:
        tasks += sorted({r.task or "" for r in rows if r.tier == t and r.confidence is not None})
    results = [calibrate(rows, quality, tier=t, upper=u, task=k, relative=relative) for k in tasks]
    table = Table(title=f"acceptance threshold for {t}" + (f" (escalating to {results[0].upper})"
                                                           if results[0].upper else ""))
    for col in ("task", "n", "min_confidence", f"kept on {t}", "quality", "accepted quality", "cost / prompt",
                "AUROC", "target met"):
        table.add_column(col, justify="left" if col == "task" else "right")
    for c in results:
        table.add_row("all" if c.task == ALL else (c.task or "(none)"), str(c.n), f"{c.threshold:.4f}",
                      _fmt(c.local_share, True), _fmt(c.quality), _fmt(c.accepted_quality), _fmt(c.cost),
                      _fmt(c.auroc), "yes" if c.met else "NO")
    console = Console(stderr=json_out)  # with --json, stdout carries the JSON alone
    if not json_out:
        console.print(table)
    head = results[0]
    target = f"{head.target:.4f}" + (" (relative)" if relative else "")
    basis = "cascade quality" if head.mode == "cascade" else "quality of accepted answers (no upper-tier outcomes)"
    console.print(f"target {target} on {basis}; always {t}: quality {head.local_quality:.4f}"
                  + (f"; always {head.upper}: quality {_fmt(head.all_upper_quality)}, cost "
                     f"{_fmt(head.all_upper_cost)}" if head.upper else ""))
    console.print(f"config: min_confidence = {head.threshold:.4f}")
    payload: dict[str, Any] = {"overall": head.to_json(), "tasks": {c.task: c.to_json() for c in results[1:]}}
    if json_out:
        typer.echo(json.dumps(payload))
    if out is not None:
        out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {out}")
    if plot is not None:
        from smallfirst.cascade.plot import plot_calibration

        console.print(f"wrote {plot_calibration(head, plot)}")
    if not head.met:
        raise typer.Exit(1)


def _next_after(rows: list[Any], tier: str) -> str | None:
    from smallfirst.core.errors import BadRequestError
    from smallfirst.routing.outcomes import OutcomeTable

    try:
        order = list(OutcomeTable.from_rows(rows).tiers)
    except BadRequestError:
        return None
    i = order.index(tier) if tier in order else len(order)
    return order[i + 1] if i + 1 < len(order) else None
