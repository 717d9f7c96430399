"""--model-per-tier and --tier-costs: one model per tier (never a silent average), costs in the user's units."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from smallfirst.core.errors import BadRequestError
from smallfirst.routing.outcomes import Outcome, OutcomeTable
from smallfirst.routing.table_options import (
    costs_spec,
    models_by_tier,
    parse_model_map,
    parse_tier_costs,
    select_models,
    with_tier_costs,
)


def _two_models(rows: list[Outcome]) -> list[Outcome]:
    """Every local row twice: once by mixtral (as given), once by a second model that always fails."""
    out: list[Outcome] = []
    for r in rows:
        if r.tier == "local":
            out.append(dataclasses.replace(r, model="mistralai/Mixtral-8x7B-Instruct-v0.1"))
            out.append(dataclasses.replace(r, model="tiny-1b", score=0.0))
        else:
            out.append(dataclasses.replace(r, model="gpt-4-1106-preview"))
    return out


def test_a_tier_with_several_models_is_refused_naming_them(rows2: list[Outcome]) -> None:
    rows = _two_models(rows2)
    assert models_by_tier(rows)["local"] == ["mistralai/Mixtral-8x7B-Instruct-v0.1", "tiny-1b"]
    with pytest.raises(BadRequestError) as err:
        select_models(rows, {})
    msg = err.value.one_line()
    assert "tier 'local' holds 2 models" in msg and "tiny-1b" in msg and "--model-per-tier local=" in msg


def test_the_named_model_is_kept_exact_or_by_a_unique_part(rows2: list[Outcome]) -> None:
    rows = _two_models(rows2)
    kept, chosen = select_models(rows, parse_model_map("local=mixtral-8x7b"))
    assert chosen == {"local": "mistralai/Mixtral-8x7B-Instruct-v0.1", "frontier": "gpt-4-1106-preview"}
    table = OutcomeTable.from_rows(kept, tiers=("local", "frontier"))
    base = OutcomeTable.from_rows(rows2, tiers=("local", "frontier"))
    assert np.array_equal(table.scores, base.scores)  # the mixtral rows only, not the average with tiny-1b
    kept2, _ = select_models(rows, {"local": "tiny-1b"})
    assert OutcomeTable.from_rows(kept2, tiers=("local", "frontier")).scores[:, 0].max() == 0.0


def test_star_averages_on_request_and_bad_names_are_refused(rows2: list[Outcome]) -> None:
    rows = _two_models(rows2)
    kept, chosen = select_models(rows, {"local": "*"})
    assert chosen["local"] == "*" and len(kept) == len(rows)
    with pytest.raises(BadRequestError, match="matches no model"):
        select_models(rows, {"local": "llama"})
    with pytest.raises(BadRequestError, match="matches several models"):
        select_models(rows, {"local": "i"})
    with pytest.raises(BadRequestError, match="that the outcomes lack"):
        select_models(rows, {"mid": "x"})
    with pytest.raises(BadRequestError, match="bad --model-per-tier entry"):
        parse_model_map("local")


def test_a_tier_left_out_of_the_table_may_hold_several_models(rows2: list[Outcome]) -> None:
    rows = _two_models(rows2)
    kept, chosen = select_models(rows, {}, tiers=("frontier",))
    assert "local" not in chosen and len(kept) == len(rows)


def test_tier_costs_parse_apply_and_round_trip(rows3: list[Outcome]) -> None:
    costs = parse_tier_costs("local=0,mid=0.2,frontier=1")
    assert costs == {"local": 0.0, "mid": 0.2, "frontier": 1.0}
    assert parse_tier_costs(costs_spec(costs)) == costs and parse_tier_costs(None) is None
    table = with_tier_costs(OutcomeTable.from_rows(rows3, tiers=("local", "mid", "frontier")), costs)
    assert table.cost_unit == "given" and table.costs[:, 1].tolist() == [0.2] * len(table)
    for bad in ("local=x", "local=-1", "local"):
        with pytest.raises(BadRequestError):
            parse_tier_costs(bad)
    with pytest.raises(BadRequestError, match="must name every tier"):
        with_tier_costs(table, {"local": 0.0})
