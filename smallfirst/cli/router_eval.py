"""`smallfirst router eval ARTIFACT OUTCOMES` — score a trained router on another outcomes file, no retraining."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from smallfirst.cli.errors import UsageError


def check_tiers(artifact_tiers: tuple[str, ...], file_tiers: set[str], artifact: str, outcomes: str) -> None:
    """The outcomes must hold every tier the artifact routes between (extra tiers are left out)."""
    missing = [t for t in artifact_tiers if t not in file_tiers]
    if missing:
        raise UsageError(f"tier mismatch: {artifact} routes {' → '.join(artifact_tiers)} but {outcomes} has no "
                         f"outcomes for {', '.join(missing)} (it has {', '.join(sorted(file_tiers)) or 'none'})",
                         hint="evaluate on outcomes of the same tiers (RouteLLM data: name them with --tiers)")


def eval_command(
    artifact: Annotated[Path, typer.Argument(help="router artifact from `smallfirst router train` (.npz)")],
    outcomes: Annotated[str, typer.Argument(
        help="outcomes JSONL to score it on, or routellm:<mmlu|gsm8k|mt-bench|all>")],
    thresholds: Annotated[Path | None, typer.Option(
        "--thresholds", help="thresholds JSON (default: <artifact>.thresholds.json when it exists)")] = None,
    tiers: Annotated[str | None, typer.Option(
        "--tiers", help="RouteLLM data: weak,strong tier names (default: the artifact's)")] = None,
    tier_costs: Annotated[str | None, typer.Option(
        "--tier-costs", help="cost per call by tier, e.g. local=0,frontier=1 (default: the artifact's --tier-costs, "
        "else file costs or rank)")] = None,
    model_per_tier: Annotated[str | None, typer.Option(
        "--model-per-tier", help="the model each tier stands for when a tier holds several, e.g. "
        "local=mixtral-8x7b,frontier=gpt-4 (tier=* averages them)")] = None,
    data_dir: Annotated[str | None, typer.Option(
        "--data-dir", help="routellm:…: folder of RouteLLM's tidy outcomes.jsonl")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="also write the summary JSON here")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the summary JSON instead of the table")] = False,
) -> None:
    """Score a trained router on another outcomes file without retraining: APGR/AUC (two tiers), cost-quality
    figures beside the null band, and the realised mix, cost and quality at its calibrated thresholds."""
    from smallfirst.cli.router_data import load_rows
    from smallfirst.routing.evaluate_artifact import evaluate, print_eval
    from smallfirst.routing.learned import ThresholdsFile, thresholds_path_for
    from smallfirst.routing.model import LinearRouterModel
    from smallfirst.routing.outcomes import OutcomeTable
    from smallfirst.routing.routellm import parse_spec
    from smallfirst.routing.table_options import costs_spec, parse_tier_costs

    if parse_spec(outcomes) is None and not Path(outcomes).is_file():
        raise UsageError(f"outcomes file {outcomes!r} not found",
                         hint="pass a JSONL file written by `smallfirst eval`, or routellm:<benchmark>")
    if thresholds is not None and not thresholds.is_file():
        raise UsageError(f"thresholds file {str(thresholds)!r} not found",
                         hint="write one with `smallfirst router calibrate`, or leave --thresholds out")
    model = LinearRouterModel.load(artifact)  # a missing or unreadable artifact: ConfigError, exit 2
    is_routellm = parse_spec(outcomes) is not None
    rows, _, chosen = load_rows(outcomes, tiers or (",".join(model.tiers) if is_routellm else None), data_dir,
                                model_per_tier)
    check_tiers(model.tiers, {r.tier for r in rows}, str(artifact), outcomes)
    costs = parse_tier_costs(tier_costs) or model.meta.get("tier_costs")
    table = OutcomeTable.from_rows(rows, tiers=model.tiers, tier_costs=parse_tier_costs(costs_spec(costs)))
    tpath = thresholds if thresholds is not None else thresholds_path_for(artifact)
    tf = ThresholdsFile.load(tpath) if tpath.is_file() else None
    summary = evaluate(model, table, tf)
    summary.update({"artifact_path": str(artifact), "outcomes": outcomes, "models": chosen,
                    "thresholds_path": str(tpath) if tf is not None else None})
    if out is not None:
        out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if json_out:
        typer.echo(json.dumps(summary))
    else:
        print_eval(summary, f"router eval {artifact.name} on {outcomes}")
    if out is not None:
        typer.echo(f"written: {out}", err=json_out)
