"""Summary, routing analysis, recommendations and compare, on runs through the in-process fake backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smallfirst.core.errors import BadRequestError
from smallfirst.evaluate.compare import compare
from smallfirst.evaluate.report import headlines, render_html, report_dict
from smallfirst.evaluate.runfile import load_run
from smallfirst.evaluate.summary import summarise
from smallfirst.routing.outcomes import OutcomeTable, read_outcomes
from tests.helpers.evalrun import fake_local, run, settings, write_tasks

LABELS = {"labels": ["positive", "negative"]}
TASKS: list[dict[str, Any]] = [
    {"id": "c1", "type": "classify", "prompt": "great film", "expected": "positive", "contract": LABELS},
    {"id": "c2", "type": "classify", "prompt": "loved the cast", "expected": "positive", "contract": LABELS},
    {"id": "c3", "type": "classify", "prompt": "superb", "expected": "positive", "contract": LABELS},
    {"id": "c4", "type": "classify", "prompt": "dull and long", "expected": "negative", "contract": LABELS},
    {"id": "m1", "type": "math", "prompt": "six times seven", "expected": 42},
    {"id": "m2", "type": "math", "prompt": "forty plus two", "expected": 42},
]


def frontier(reply: str) -> dict[str, object]:
    return {**fake_local(reply), "location": "us", "price_input_per_mtok": 3.0, "price_output_per_mtok": 15.0}


@pytest.fixture
def two_tier_run(tmp_path: Path) -> Path:
    cfg = settings(("local", fake_local("positive")), ("frontier", frontier("positive, so #### 42")))
    out = tmp_path / "run"
    run(cfg, write_tasks(tmp_path / "t.jsonl", TASKS), out)
    return out


def test_summary_numbers(two_tier_run: Path) -> None:
    r = load_run(two_tier_run)
    s = summarise(r)
    local, front = s.targets
    assert (local.tier, front.tier) == ("local", "frontier") and local.local and not front.local
    assert local.quality == pytest.approx(3 / 6) and front.quality == pytest.approx(5 / 6)
    assert local.cost_usd == 0.0
    rows = [x for x in r.rows.values() if x.tier == "frontier"]
    expect = sum((x.prompt_tokens * 3.0 + x.completion_tokens * 15.0) / 1e6 for x in rows)
    assert front.cost_usd == pytest.approx(expect) and front.cost_usd > 0
    assert local.confidence == pytest.approx(0.9048, abs=1e-3)  # the fake's logprob -0.1 per token
    assert s.by_type["classify"]["local/fake:echo?reply=positive"] == (4, 0.75)
    assert s.local_tier == "local" and s.local_right == pytest.approx(0.5)
    assert s.local_as_good == pytest.approx(4 / 6)  # ties on classify, behind on math
    rec = {x.task_type: x.tier for x in s.recommendations}
    assert rec == {"classify": "local", "math": "frontier"}
    by_type = next(x for x in s.routing if x.name.startswith("by task type"))
    assert by_type.quality == pytest.approx(5 / 6) and by_type.quality_vs_top == pytest.approx(1.0)
    assert by_type.local_share == pytest.approx(4 / 6)
    math_cost = sum(x.cost_usd for x in rows if x.task_id.startswith("m")) / 6
    assert by_type.cost_per_task == pytest.approx(math_cost)
    assert by_type.cost_vs_top == pytest.approx(math_cost * 6 / front.cost_usd)
    oracle = next(x for x in s.routing if x.name.startswith("oracle"))
    assert oracle.quality == pytest.approx(5 / 6) and oracle.mix == pytest.approx({"local": 4 / 6, "frontier": 2 / 6})
    assert s.cost_for_target is not None and by_type.cost_vs_top is not None
    assert s.cost_for_target <= by_type.cost_vs_top + 1e-9
    lines = " ".join(headlines(s))
    assert "The local tier gets 50.0% of its tasks right" in lines and "66.7% of requests local" in lines
    assert report_dict(s)["headlines"]


def test_outcomes_are_the_routers_training_format(two_tier_run: Path) -> None:
    rows = read_outcomes(two_tier_run / "outcomes.jsonl")
    assert len(rows) == 12 and {r.tier for r in rows} == {"local", "frontier"}
    table = OutcomeTable.from_rows(rows)
    assert table.tiers == ("local", "frontier") and len(table) == 6 and table.cost_unit == "usd"
    c1 = next(r for r in rows if r.prompt_id == "c1" and r.tier == "local")
    assert (c1.prompt, c1.score, c1.task, c1.dataset, c1.model) == ("great film", 1.0, "classify", "t", "echo")
    assert c1.confidence is not None and c1.prompt_tokens is not None


def test_html_is_self_contained(two_tier_run: Path) -> None:
    from smallfirst.evaluate.plots import all_plots

    r = load_run(two_tier_run)
    s = summarise(r)
    plots = all_plots(s)
    assert set(plots) == {"tiers", "types", "routing"}
    assert all(p.startswith(b"\x89PNG") for p in plots.values())
    page = render_html(s, r, plots)
    assert page.count("data:image/png;base64,") == 3 and "Recommendation per task type" in page


# without a label contract, local tiers answer freely (no label-constrained decoding)
FREE = [{k: v for k, v in t.items() if k != "contract"} for t in TASKS]


def test_compare_wins_losses_ties(tmp_path: Path) -> None:
    tf = write_tasks(tmp_path / "t.jsonl", FREE)
    run(settings(("local", fake_local("positive"))), tf, tmp_path / "a")
    run(settings(("local", fake_local("negative"))), tf, tmp_path / "b")
    c = compare(tmp_path / "a", tmp_path / "b")
    assert (c.n, c.wins, c.losses, c.ties) == (6, 1, 3, 2)
    assert c.mean_delta == pytest.approx((1 - 3) / 6)
    assert c.by_type["classify"].wins == 1 and c.by_type["math"].ties == 2
    lo, hi = c.ci95
    assert lo <= c.mean_delta <= hi
    assert not c.passes(0.0) and compare(tmp_path / "b", tmp_path / "a").passes(0.3)
    assert c.to_json()["losses"] == 3
    with pytest.raises(BadRequestError, match="names no single target"):
        compare(tmp_path / "a", tmp_path / "b", target_a="frontier")


def test_compare_skips_tasks_whose_content_changed(tmp_path: Path) -> None:
    run(settings(("local", fake_local("positive"))), write_tasks(tmp_path / "t.jsonl", FREE), tmp_path / "a")
    edited = [dict(FREE[0], expected="negative"), *FREE[1:]]
    run(settings(("local", fake_local("positive"))), write_tasks(tmp_path / "t.jsonl", edited), tmp_path / "b")
    c = compare(tmp_path / "a", tmp_path / "b")
    assert c.changed == 1 and c.n == 5 and c.ties == 5
