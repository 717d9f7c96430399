"""Loading outcomes for the router commands: a file or RouteLLM data, one model per tier, costs per tier."""

from __future__ import annotations

import dataclasses
from typing import Any

import typer

from smallfirst.core.errors import BadRequestError


def split_names(s: str | None) -> list[str] | None:
    return [p.strip() for p in s.split(",") if p.strip()] if s else None


def load_rows(spec: str, tiers: str | None = None, data_dir: str | None = None,
              model_per_tier: str | None = None) -> tuple[list[Any], tuple[str, ...] | None, dict[str, str]]:
    """Outcome rows (one model per tier: ``--model-per-tier``, see :mod:`smallfirst.routing.table_options`),
    the tier order to pivot them in (None: by cost / score), and the model each tier stands for."""
    from smallfirst.routing.outcomes import read_outcomes
    from smallfirst.routing.routellm import load_routellm, parse_spec
    from smallfirst.routing.table_options import AVERAGE, parse_model_map, select_models

    names = split_names(tiers)
    benches = parse_spec(spec)
    order: tuple[str, ...] | None = tuple(names) if names else None
    if benches is not None:
        pair = (names[0], names[1]) if names and len(names) == 2 else ("local", "frontier")
        if names and len(names) != 2:
            raise BadRequestError("RouteLLM data has two tiers", hint="pass --tiers weak_name,strong_name")
        rows: list[Any] = load_routellm(benches, data_dir=data_dir, tiers=pair)
        order = pair
    else:
        skipped: list[int] = []
        rows = read_outcomes(spec, skipped)
        if skipped:
            typer.echo(f"skipped {len(skipped)} row(s) with a null score (not graded), e.g. line {skipped[0]}",
                       err=True)
    rows, chosen = select_models(rows, parse_model_map(model_per_tier), order)
    for t, m in chosen.items():
        if m == AVERAGE:
            typer.echo(f"tier {t!r}: averaging every model's score per prompt (--model-per-tier {t}=*)", err=True)
    return rows, order, chosen


def load_table(spec: str, tiers: str | None = None, tier_costs: str | None = None,
               data_dir: str | None = None, model_per_tier: str | None = None) -> Any:
    from smallfirst.routing.outcomes import OutcomeTable
    from smallfirst.routing.table_options import parse_tier_costs

    rows, order, chosen = load_rows(spec, tiers, data_dir, model_per_tier)
    table = OutcomeTable.from_rows(rows, tiers=order, tier_costs=parse_tier_costs(tier_costs))
    return dataclasses.replace(table, meta={**table.meta, "models": chosen})
