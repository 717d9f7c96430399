"""router retrain's parts: the time split, the evaluation on held-out prompts, the gate and the promotion."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from smallfirst.routing import retrain as R
from smallfirst.routing.learned import LearnedRouter, ThresholdsFile
from smallfirst.routing.model import LinearRouterModel
from smallfirst.routing.outcomes import Outcome, OutcomeTable
from smallfirst.routing.train import TrainSpec, train
from tests.unit.routing.conftest import synthetic_rows


def flipped(rows: list[Outcome]) -> list[Outcome]:
    return [Outcome(r.prompt_id, r.prompt, r.tier, 1.0 - r.score if r.tier == "local" else r.score) for r in rows]


@pytest.fixture(scope="module")
def table() -> OutcomeTable:
    return OutcomeTable.from_rows(synthetic_rows(), tiers=("local", "frontier"))


@pytest.fixture(scope="module")
def models(table: OutcomeTable) -> tuple[LinearRouterModel, LinearRouterModel]:
    """(trained on the first 160 prompts, trained on all of them flipped)."""
    spec = TrainSpec(folds=3, bits=14, c=1.0)
    bad = OutcomeTable.from_rows(flipped(synthetic_rows()), tiers=("local", "frontier"))
    return train(table.subset(np.arange(160)), spec), train(bad, spec)


def test_time_split_holds_out_the_newest_prompts(table: OutcomeTable) -> None:
    seen = {pid: float(i) for i, pid in enumerate(reversed(table.prompt_ids))}  # the first prompt is the newest
    tr, ho, cut = R.time_split(table, seen, 0.2)
    assert len(ho) == 48 and len(tr) == 192 and not set(tr) & set(ho)
    assert sorted(ho.tolist()) == list(range(48)) and cut == float(len(table) - 48)
    with pytest.raises(ValueError, match="holdout"):
        R.time_split(table, seen, 1.0)


def test_last_seen_dates_a_prompt_by_its_newest_row() -> None:
    from smallfirst.core.types import RequestRecord
    from smallfirst.routing.from_log import prompt_id

    def rec(text: str | None, ts: float) -> RequestRecord:
        return RequestRecord(request_id="r", ts=ts, requested_model="smallfirst/auto", tier="local", model="m",
                             endpoint="e", status=200, error_code=None, reason="", escalations=(), attempts=(),
                             prompt_tokens=0, completion_tokens=0, cost_usd=0.0, latency_ms=1.0, ttft_ms=None,
                             stream=False, prompt_text=text)

    seen = R.last_seen([rec("a", 1.0), rec("b", 2.0), rec("a", 5.0), rec(None, 9.0)])
    assert seen == {prompt_id("a"): 5.0, prompt_id("b"): 2.0}


def test_evaluation_tells_a_good_router_from_a_flipped_one(table: OutcomeTable,
                                                           models: tuple[LinearRouterModel, LinearRouterModel]) -> None:
    held = table.subset(np.arange(160, 240))
    good, bad = R.evaluate(LearnedRouter(models[0]), held), R.evaluate(LearnedRouter(models[1]), held)
    assert good["n"] == 80 and good["apgr"] is not None and bad["apgr"] is not None
    assert good["apgr"] > 0.5 > bad["apgr"]  # 0.5: a random order
    assert set(good["mix"]) == {"local", "frontier"} and sum(good["mix"].values()) == pytest.approx(1.0)
    ok, reason = R.decide(bad, good, R.Options(margin=0.05, min_heldout=20))
    assert ok and reason.startswith("PROMOTE — candidate APGR")
    ok, reason = R.decide(good, bad, R.Options(margin=0.05, min_heldout=20))
    assert not ok and "does not beat the margin +0.050" in reason
    ok, reason = R.decide(bad, good, R.Options(min_heldout=100))
    assert not ok and "only 80 held-out prompts (need 100)" in reason
    alike = {**good, "apgr": None}
    assert "score every tier alike" in R.decide(alike, alike, R.Options())[1]


def test_candidate_is_calibrated_as_the_running_router_was(models: tuple[LinearRouterModel, LinearRouterModel]) -> None:
    mix = ThresholdsFile(tiers=("local", "frontier"), thresholds={"local": 0.5}, method="mix",
                         target_mix={"local": 0.7, "frontier": 0.3})
    thr = R.candidate_thresholds(models[0], mix)
    assert thr is not None and thr.method == "mix" and thr.target_mix == {"local": 0.7, "frontier": 0.3}
    assert thr.expected["mix"]["local"] == pytest.approx(0.7, abs=0.05)
    quality = ThresholdsFile(tiers=("local", "frontier"), thresholds={"local": 0.5}, method="quality",
                             quality_target=0.95)
    q = R.candidate_thresholds(models[0], quality)
    assert q is not None and q.method == "quality" and q.quality_target == 0.95
    assert R.candidate_thresholds(models[0], None) is None


Models = tuple[LinearRouterModel, LinearRouterModel]


def test_promotion_replaces_atomically_and_keeps_the_previous(tmp_path: Path, models: Models) -> None:
    art, thr = tmp_path / "router.npz", tmp_path / "router.npz.thresholds.json"
    models[1].save(art)
    old = art.read_bytes()
    t = ThresholdsFile(tiers=("local", "frontier"), thresholds={"local": 0.4}, method="mix",
                       target_mix={"local": 0.6, "frontier": 0.4})
    t.save(thr)
    old_thr = thr.read_bytes()
    inode = os.stat(art).st_ino
    written = R.promote(models[0], R.candidate_thresholds(models[0], t), art, thr, {"retrained_from": "abc"})
    assert written == [art, thr]
    assert (tmp_path / "router.npz.bak").read_bytes() == old and (tmp_path / thr.name).with_suffix(
        ".json.bak").read_bytes() == old_thr
    assert os.stat(art).st_ino != inode  # a new file renamed over the old one, never rewritten in place
    loaded = LinearRouterModel.load(art)
    assert loaded.meta["retrained_from"] == "abc" and loaded.meta["n_train"] == 160
    assert ThresholdsFile.load(thr).source.startswith("router retrain")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["router.npz", "router.npz.bak", "router.npz.thresholds.json",
                                                          "router.npz.thresholds.json.bak"]
