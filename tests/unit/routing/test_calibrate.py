"""Calibration: target mix (also on held-out data), quality target, parsing."""

from __future__ import annotations

import numpy as np
import pytest

from smallfirst.core.errors import BadRequestError
from smallfirst.routing import calibrate as C


def test_choose_tiers() -> None:
    g = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.1]])
    assert C.choose_tiers(g, np.array([0.5, 0.5])).tolist() == [0, 1, 2]
    assert C.choose_tiers(g, np.array([C.NEVER, C.NEVER])).tolist() == [2, 2, 2]
    assert C.choose_tiers(g, np.array([C.ALWAYS, 0.5])).tolist() == [0, 0, 0]


def test_parse_mix() -> None:
    assert C.parse_mix("local=0.7,mid=0.2,frontier=0.1", ["local", "mid", "frontier"]) == \
        pytest.approx([0.7, 0.2, 0.1])
    assert C.parse_mix("local=0.5,frontier=0.5", ["local", "mid", "frontier"]) == pytest.approx([0.5, 0, 0.5])
    for bad in ("local=0.7,mid=0.2", "lokal=1", "local=x,frontier=1", "local=1.5,frontier=-0.5", "local"):
        with pytest.raises(BadRequestError):
            C.parse_mix(bad, ["local", "mid", "frontier"])


@pytest.mark.parametrize("mix", [[0.7, 0.2, 0.1], [0.5, 0.0, 0.5], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
def test_mix_exact_on_calibration_and_close_on_held_out(mix: list[float]) -> None:
    rng = np.random.default_rng(3)
    cal = rng.beta(2, 2, size=(4000, 2))
    held = rng.beta(2, 2, size=(4000, 2))
    thr = C.calibrate_mix(cal, mix)
    assert C.realised_mix(cal, thr) == pytest.approx(mix, abs=0.002)
    assert C.realised_mix(held, thr) == pytest.approx(mix, abs=0.03)


def test_mix_with_heavy_ties_still_bounded() -> None:
    g = np.repeat(np.array([[0.2], [0.5], [0.9]]), 100, axis=0)
    thr = C.calibrate_mix(g, [0.5, 0.5])
    real = C.realised_mix(g, thr)
    assert real[0] == pytest.approx(2 / 3)  # ties cannot be split: the whole tied block passes


def test_quality_target_picks_the_cheapest_threshold() -> None:
    # prompt i: the local tier is right on the first 6 (high goodness), wrong on the last 4
    good = np.array([[0.9], [0.85], [0.8], [0.75], [0.7], [0.65], [0.4], [0.3], [0.2], [0.1]])
    scores = np.array([[1, 1]] * 6 + [[0, 1]] * 4, dtype=float)
    costs = np.array([[0.0, 1.0]] * 10)
    thr, q, cost = C.calibrate_quality(good, scores, costs, target=1.0)
    assert q == pytest.approx(1.0)
    assert cost == pytest.approx(0.4)  # only the 4 hard prompts go to the frontier
    assert 0.4 < thr[0] <= 0.65
    _thr2, q2, cost2 = C.calibrate_quality(good, scores, costs, target=0.8)
    assert cost2 == pytest.approx(0.2) and q2 == pytest.approx(0.8)
    thr3, _q3, cost3 = C.calibrate_quality(good, scores, costs, target=2.0)  # unreachable → all frontier
    assert thr3[0] == C.NEVER and cost3 == pytest.approx(1.0)


def test_thresholds_dict_round_trip() -> None:
    d = C.thresholds_dict(["local", "mid", "frontier"], np.array([0.6, 0.3]))
    assert d == {"local": 0.6, "mid": 0.3}
    assert C.thresholds_array(["local", "mid", "frontier"], d).tolist() == [0.6, 0.3]
