"""Routing metrics on hand-computable cases."""

from __future__ import annotations

import numpy as np
import pytest

from smallfirst.routing import metrics as M


def test_oracle_curve_by_hand() -> None:
    weak = np.array([0.0, 0.0, 0.0, 1.0])
    strong = np.array([1.0, 1.0, 0.0, 0.0])
    c, q = M.oracle_curve(weak, strong)
    assert np.allclose(c, [0, 0.25, 0.5, 0.75, 1.0])
    assert np.allclose(q, [0.25, 0.5, 0.75, 0.75, 0.75])  # flat after the positive gains
    s = M.two_tier_summary(c, q, 0.25, 0.5)
    assert s["apgr"] == pytest.approx(1.5)  # 0.125 + 0.375 + 0.5 + 0.5
    assert s["cpt50"] == pytest.approx(0.125)
    assert s["cpt80"] == pytest.approx(0.2)
    assert s["c_at_95"] == pytest.approx(0.225)  # 0.475 reached 90% of the way to c = 0.25


def test_router_curve_and_ties() -> None:
    weak = np.array([0.0, 1.0, 0.0, 1.0])
    strong = np.array([1.0, 1.0, 0.0, 0.0])
    # perfect ranking of gains: +1 first, then 0, 0, then -1 last
    _c, q = M.quality_curve(np.array([4.0, 3.0, 2.0, 1.0]), weak, strong)
    assert np.allclose(q, [0.5, 0.75, 0.75, 0.75, 0.5])
    # all tied: exact expectation of a random split = straight line
    _c2, q2 = M.quality_curve(np.zeros(4), weak, strong)
    assert np.allclose(q2, np.linspace(0.5, 0.5, 5))
    weak3, strong3 = np.array([0.0, 0.0, 1.0]), np.array([1.0, 1.0, 1.0])
    c3, q3 = M.quality_curve(np.array([1.0, 1.0, 1.0]), weak3, strong3)
    assert M.apgr(c3, q3, weak3.mean(), strong3.mean()) == pytest.approx(0.5)


def test_random_router_apgr_is_half() -> None:
    rng = np.random.default_rng(0)
    weak = (rng.random(2000) < 0.6).astype(float)
    strong = (rng.random(2000) < 0.8).astype(float)
    c, q = M.random_curve(weak, strong)
    assert M.apgr(c, q, weak.mean(), strong.mean()) == pytest.approx(0.5)
    vals = []
    for seed in range(20):
        scores = np.random.default_rng(seed + 1).random(2000)
        c, q = M.quality_curve(scores, weak, strong)
        vals.append(M.apgr(c, q, weak.mean(), strong.mean()))
    assert float(np.mean(vals)) == pytest.approx(0.5, abs=0.02)
    co, qo = M.oracle_curve(weak, strong)
    assert M.apgr(co, qo, weak.mean(), strong.mean()) > 1.0


def test_cpt_none_when_no_gap_and_apgr_11() -> None:
    w = np.array([1.0, 0.0])
    c, q = M.quality_curve(np.array([1.0, 0.0]), w, w)
    assert M.cpt(c, q, 0.5, 0.5, 0.5) is None
    weak = np.array([0.0, 0.0, 0.0, 1.0])
    strong = np.array([1.0, 1.0, 0.0, 0.0])
    c, q = M.random_curve(weak, strong)
    assert M.apgr_11(c, q, 0.25, 0.5) == pytest.approx(0.5)


def test_roc_auc() -> None:
    assert M.roc_auc([1, 2, 3, 4], [0, 0, 1, 1]) == pytest.approx(1.0)
    assert M.roc_auc([4, 3, 2, 1], [0, 0, 1, 1]) == pytest.approx(0.0)
    assert M.roc_auc([1, 1], [0, 1]) == pytest.approx(0.5)
    assert M.roc_auc([1, 2], [1, 1]) is None


def test_upper_hull_and_aiq() -> None:
    hx, _hy = M.upper_hull([0.0, 0.5, 1.0], [0.5, 0.6, 0.9])
    assert hx.tolist() == [0.0, 1.0]  # (0.5, 0.6) lies under the chord (0.7 there)
    assert M.aiq([0.0, 0.5, 1.0], [0.5, 0.6, 0.9], 0.0, 1.0) == pytest.approx(0.7)
    assert M.aiq([0.0, 0.5, 1.0], [0.5, 0.8, 0.9], 0.0, 1.0) == pytest.approx(0.75)
    # a dearer point that is worse is dropped; quality stays flat to c_max
    assert M.aiq([0.0, 0.5, 1.0], [0.5, 0.9, 0.7], 0.0, 1.0) == pytest.approx(0.5 * 0.7 + 0.5 * 0.9)
    # nothing achievable left of the first point
    assert M.aiq([0.5, 1.0], [0.8, 0.8], 0.0, 1.0) == pytest.approx(0.4)
    with pytest.raises(ValueError):
        M.aiq([0.0], [1.0], 1.0, 1.0)
