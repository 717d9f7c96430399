from __future__ import annotations

import pytest

from smallfirst.resilience.breaker import CircuitBreaker


def state(b: CircuitBreaker) -> str:
    return b.state  # read through a call: the state changes between two reads


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def test_opens_after_consecutive_failures_only() -> None:
    clock = Clock()
    b = CircuitBreaker(3, 10.0, clock=clock)
    b.failure()
    b.failure()
    b.success()  # the streak restarts
    b.failure()
    b.failure()
    assert state(b) == "closed" and b.allow()
    b.failure()
    assert state(b) == "open" and b.opened_total == 1
    assert not b.allow() and b.refused_total == 1
    assert b.retry_in() == pytest.approx(10.0)
    assert b.snapshot() == {"state": "open", "consecutive_failures": 3, "opened_total": 1, "retry_in_s": 10.0}


def test_half_open_lets_one_probe_through_and_closes_on_success() -> None:
    clock = Clock()
    b = CircuitBreaker(1, 5.0, clock=clock)
    b.failure()
    clock.t = 4.9
    assert not b.allow()
    clock.t = 5.0
    assert state(b) == "half_open"
    assert b.allow()  # the probe
    assert not b.allow()  # a second caller while the probe runs
    b.success()
    assert state(b) == "closed" and b.allow() and b.allow()


def test_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = Clock()
    b = CircuitBreaker(2, 5.0, clock=clock)
    b.failure()
    b.failure()
    clock.t = 6.0
    assert b.allow()
    b.failure()
    assert state(b) == "open" and b.opened_total == 2
    assert b.retry_in() == pytest.approx(5.0)


def test_released_probe_frees_the_slot() -> None:
    clock = Clock()
    b = CircuitBreaker(1, 1.0, clock=clock)
    b.failure()
    clock.t = 1.0
    assert b.allow()
    b.release()  # the caller went away: no verdict
    assert state(b) == "half_open" and b.allow()


def test_threshold_zero_never_opens() -> None:
    b = CircuitBreaker(0, 1.0)
    for _ in range(100):
        b.failure()
    assert state(b) == "closed" and b.allow()


def test_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(-1, 1.0)
    with pytest.raises(ValueError):
        CircuitBreaker(1, 0.0)
