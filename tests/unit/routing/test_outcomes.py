"""Outcomes format: validation with line numbers, round trip, pivoting, and the RouteLLM loader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from smallfirst.core.errors import BadRequestError
from smallfirst.routing.outcomes import Outcome, OutcomeTable, read_outcomes, write_outcomes
from smallfirst.routing.routellm import load_routellm, parse_spec


def test_round_trip(tmp_path: Path, rows2: list[Outcome]) -> None:
    p = tmp_path / "o.jsonl"
    assert write_outcomes(p, rows2) == len(rows2)
    assert read_outcomes(p) == rows2


@pytest.mark.parametrize(("line", "msg"), [
    ("not json", "not valid JSON"),
    ('["a"]', "expected a JSON object"),
    ('{"prompt_id": "a", "prompt": "x", "tier": "local"}', "missing required field 'score'"),
    ('{"prompt_id": "a", "prompt": "x", "tier": "local", "score": 1.5}', "'score' must be a number in [0, 1]"),
    ('{"prompt_id": "a", "prompt": "x", "tier": "local", "score": true}', "'score' must be a number"),
    ('{"prompt_id": "", "prompt": "x", "tier": "local", "score": 1}', "'prompt_id' must be a non-empty string"),
    ('{"prompt_id": "a", "prompt": "x", "tier": "local", "score": 1, "cost_usd": -1}', "'cost_usd'"),
    ('{"prompt_id": "a", "prompt": "x", "tier": "local", "score": 1, "confidence": 2}', "'confidence'"),
    ('{"prompt_id": "a", "prompt": "x", "tier": "local", "score": 1, "prompt_tokens": 1.5}', "'prompt_tokens'"),
])
def test_malformed_lines_name_the_line(tmp_path: Path, line: str, msg: str) -> None:
    good = json.dumps({"prompt_id": "a", "prompt": "x", "tier": "local", "score": 1})
    p = tmp_path / "bad.jsonl"
    p.write_text(good + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(BadRequestError) as ei:
        read_outcomes(p)
    assert "line 3" in ei.value.message
    assert msg in ei.value.message


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(BadRequestError, match="not found"):
        read_outcomes(tmp_path / "nope.jsonl")
    (tmp_path / "e.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(BadRequestError, match="no rows"):
        read_outcomes(tmp_path / "e.jsonl")


def test_table_pivot_order_costs_and_dropped() -> None:
    rows = [
        Outcome("a", "pa", "big", 1.0, cost_usd=2.0), Outcome("a", "pa", "small", 0.0, cost_usd=0.0),
        Outcome("b", "pb", "big", 1.0, cost_usd=2.0), Outcome("b", "pb", "small", 1.0, cost_usd=0.0),
        Outcome("b", "pb", "small", 0.0, cost_usd=0.0),  # a repeat: averaged
        Outcome("c", "pc", "small", 1.0, cost_usd=0.0),  # no "big" outcome: dropped
    ]
    t = OutcomeTable.from_rows(rows)
    assert t.tiers == ("small", "big")  # ordered by mean cost
    assert t.dropped == 1 and len(t) == 2
    assert np.allclose(t.scores, [[0.0, 1.0], [0.5, 1.0]])
    assert np.allclose(t.costs, [[0.0, 2.0], [0.0, 2.0]])
    assert t.cost_unit == "usd"
    t2 = OutcomeTable.from_rows([Outcome(r.prompt_id, r.prompt, r.tier, r.score) for r in rows],
                                tiers=("small", "big"))
    assert np.allclose(t2.costs, [[0.0, 1.0], [0.0, 1.0]]) and t2.cost_unit == "tier-rank"
    with pytest.raises(BadRequestError, match="no outcomes for tier"):
        OutcomeTable.from_rows(rows, tiers=("small", "huge"))
    with pytest.raises(BadRequestError, match="tier costs must name every tier"):
        OutcomeTable.from_rows(rows, tier_costs={"small": 0.0})


def test_groups_follow_prompt_text() -> None:
    rows = [Outcome(pid, "same text", t, 1.0) for pid in ("a", "b") for t in ("x", "y")]
    t = OutcomeTable.from_rows(rows, tiers=("x", "y"))
    assert t.groups.tolist() == [0, 0]


def test_parse_spec() -> None:
    assert parse_spec("routellm:mmlu,gsm8k") == ["mmlu", "gsm8k"]
    assert parse_spec("routellm:all") == ["mmlu", "gsm8k", "mt-bench"]
    assert parse_spec("file.jsonl") is None
    with pytest.raises(BadRequestError):
        parse_spec("routellm:hellaswag")


def test_routellm_loader_matches_published_counts(routellm_dir: Path) -> None:
    g = OutcomeTable.from_rows(load_routellm(["gsm8k"], data_dir=routellm_dir), tiers=("local", "frontier"))
    assert len(g) == 1307  # 1,319 minus 12 contaminated
    assert g.scores.mean(axis=0) == pytest.approx([0.6373, 0.8577], abs=1e-4)
    mt = OutcomeTable.from_rows(load_routellm(["mt-bench"], data_dir=routellm_dir), tiers=("local", "frontier"))
    assert len(mt) == 72  # routed per question; 8 contaminated questions dropped
    assert mt.scores.mean(axis=0) == pytest.approx([0.8281, 0.9212], abs=1e-4)
    assert {t for t in mt.tasks} >= {"writing", "math", "coding"}
    with pytest.raises(BadRequestError, match="not found"):
        load_routellm(["gsm8k"], data_dir=routellm_dir / "missing")
