"""Cost-quality figures and the null band of the router benchmark (smallfirst.routing.bench_curves)."""

from __future__ import annotations

import numpy as np
import pytest

from smallfirst.routing.bench_curves import cost_for, figures, null_band, outside, quality_at
from smallfirst.routing.sweep import cost_quality_points


def test_cost_and_quality_read_off_the_upper_hull() -> None:
    x, q = np.array([0.0, 0.5, 1.0]), np.array([0.6, 0.8, 0.9])
    assert cost_for(x, q, 0.7) == pytest.approx(0.25)
    assert cost_for(x, q, 0.95) is None
    assert quality_at(x, q, 0.75) == pytest.approx(0.85)
    assert quality_at(x + 0.2, q, 0.1) == 0.0


def test_random_scores_land_in_the_band_and_an_oracle_does_not() -> None:
    rng = np.random.default_rng(1)
    n = 400
    scores = np.stack([rng.random(n) < 0.5, rng.random(n) < 0.7, np.ones(n, dtype=bool)], axis=1).astype(float)
    costs = np.tile([0.0, 1.0, 10.0], (n, 1))
    c_min, c_max, top = 0.0, 10.0, float(scores[:, -1].mean())

    def sweep(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return cost_quality_points(g, scores, costs)

    band = null_band(sweep, n, 2, top, c_min, c_max, seeds=(0,), draws=10)
    coin = figures(*sweep(np.random.default_rng(99).random((n, 2))), top, c_min, c_max)
    assert band["aiq"][0] - 0.02 <= (coin["aiq"] or 0) <= band["aiq"][1] + 0.02
    # knowing which prompts the cheap tiers get right: the "oracle-like" goodness
    informed = figures(*sweep(scores[:, :2] + 0.01 * rng.random((n, 2))), top, c_min, c_max)
    assert outside(informed["aiq"], band["aiq"]) is True
    assert outside(None, band["aiq"]) is None
    cost95 = informed["cost_95"]
    assert cost95 is not None and outside(cost95, band["cost_95"], higher_is_better=False) is True
