"""Acceptance-threshold calibration on outcome rows with confidences."""

from __future__ import annotations

import pytest

from smallfirst.cascade.calibrate import calibrate, default_tiers
from smallfirst.core.errors import BadRequestError
from smallfirst.routing.outcomes import Outcome

# local answers: confidence and whether they were right; the frontier is always right.
LOCAL = [(0.95, 1), (0.9, 1), (0.8, 1), (0.7, 0), (0.6, 1), (0.5, 0), (0.4, 0), (0.3, 1), (0.2, 0), (0.1, 0)]


def rows(with_upper: bool = True, cost: bool = False) -> list[Outcome]:
    out = []
    for i, (conf, ok) in enumerate(LOCAL):
        out.append(Outcome(f"p{i}", f"prompt {i}", "local", float(ok), confidence=conf,
                           cost_usd=0.0 if cost else None, task="a" if i % 2 else "b"))
        if with_upper:
            out.append(Outcome(f"p{i}", f"prompt {i}", "frontier", 1.0, cost_usd=0.01 if cost else None,
                               task="a" if i % 2 else "b"))
    return out


def test_cheapest_threshold_meeting_the_cascade_quality() -> None:
    cal = calibrate(rows(), 0.9, tier="local", upper="frontier")
    # τ=0.8 keeps 3 right answers local, escalates 7: quality 1.0; τ=0.6 keeps 5 (1 wrong): 0.9 → cheapest.
    assert cal.mode == "cascade" and cal.met
    assert cal.threshold == pytest.approx(0.6) and cal.local_share == pytest.approx(0.5)
    assert cal.quality == pytest.approx(0.9) and cal.accepted_quality == pytest.approx(0.8)
    assert cal.all_upper_quality == 1.0 and cal.local_quality == pytest.approx(0.5)
    assert cal.cost == pytest.approx(0.5)  # tier-rank cost: share escalated


def test_usd_costs_and_relative_target() -> None:
    cal = calibrate(rows(cost=True), 0.95, tier="local", upper="frontier", relative=True)
    assert cal.threshold == pytest.approx(0.8) and cal.cost == pytest.approx(0.007)
    assert cal.all_upper_cost == pytest.approx(0.01)


def test_without_upper_outcomes_the_accepted_answers_must_meet_the_target() -> None:
    cal = calibrate(rows(with_upper=False), 1.0, tier="local", upper="frontier")
    assert cal.mode == "accepted" and cal.upper is None
    assert cal.threshold == pytest.approx(0.8) and cal.local_share == pytest.approx(0.3)


def test_unreachable_target_reports_the_best_and_not_met() -> None:
    cal = calibrate(rows(with_upper=False), 1.0, tier="local", upper=None)
    assert cal.met and cal.accepted_quality == 1.0
    bad = [Outcome("x", "x", "local", 0.0, confidence=0.9), Outcome("y", "y", "local", 0.0, confidence=0.1)]
    miss = calibrate(bad, 0.5, tier="local", upper=None)
    assert not miss.met


def test_auroc_of_the_confidence() -> None:
    cal = calibrate(rows(), 0.9, tier="local", upper="frontier")
    # right answers: 0.95 0.9 0.8 0.6 0.3; wrong: 0.7 0.5 0.4 0.2 0.1 → 21 of 25 pairs ordered right
    assert cal.auroc == pytest.approx(21 / 25)


def test_per_task_subset() -> None:
    cal = calibrate(rows(), 0.9, tier="local", upper="frontier", task="a")
    assert cal.n == 5 and cal.task == "a"


def test_errors_are_clear() -> None:
    with pytest.raises(BadRequestError, match="no 'mid' outcomes with a confidence"):
        calibrate(rows(), 0.9, tier="mid", upper="frontier")
    with pytest.raises(BadRequestError, match="not in"):
        calibrate(rows(), 1.5, tier="local", upper="frontier")
    with pytest.raises(BadRequestError, match="relative target"):
        calibrate(rows(with_upper=False), 0.9, tier="local", upper="frontier", relative=True)


def test_default_tiers() -> None:
    assert default_tiers(rows()) == ("local", "frontier")
    assert default_tiers(rows(with_upper=False)) == ("local", None)
    with pytest.raises(BadRequestError, match="no outcome row has a confidence"):
        default_tiers([Outcome("x", "x", "local", 1.0)])
