from __future__ import annotations

import calendar

import pytest

from smallfirst.access.limits import Ledger, TokenBucket, seconds_to_next_day, seconds_to_next_month, utc_day


def test_bucket_starts_full_and_refills_evenly() -> None:
    b = TokenBucket(60, now=0.0)  # one per second
    assert b.wait(60, 0.0) == 0.0
    b.take(60)
    assert b.wait(1, 0.0) == pytest.approx(1.0)
    assert b.wait(1, 0.5) == pytest.approx(0.5)
    assert b.wait(1, 1.0) == 0.0
    assert b.wait(30, 1.0) == pytest.approx(29.0)


def test_bucket_debt_after_overuse_delays_new_requests() -> None:
    b = TokenBucket(600, now=0.0)  # 10 per second
    b.take(100)  # reserved 100
    b.give(100 - 700)  # really used 700 of the 600 available: 100 units of debt
    assert b.level == pytest.approx(-100.0)
    assert b.wait(1, 0.0) == pytest.approx(10.1)


def test_request_larger_than_capacity_needs_a_full_bucket() -> None:
    b = TokenBucket(100, now=0.0)
    assert b.wait(500, 0.0) == 0.0  # full: allowed, and it goes into debt
    b.take(500)
    assert b.wait(500, 0.0) == pytest.approx((100 + 400) / (100 / 60))


def test_give_never_overfills() -> None:
    b = TokenBucket(10, now=0.0)
    b.give(50)
    assert b.level == 10


def test_ledger_roll_and_remaining() -> None:
    led = Ledger("2025-01-31", spent_day=2.0, spent_month=9.0, reserved=0.5)
    left, window = led.remaining(5.0, None)
    assert (round(left, 9), window) == (2.5, "day")
    left, window = led.remaining(5.0, 10.0)
    assert (round(left, 9), window) == (0.5, "month")
    assert led.remaining(None, None)[1] is None
    led.roll("2025-01-31")
    assert led.spent_day == 2.0
    led.roll("2025-02-01")  # new day and new month
    assert (led.spent_day, led.spent_month, led.reserved) == (0.0, 0.0, 0.5)


def test_ledger_settle_counts_cost_on_the_reservation_day() -> None:
    led = Ledger("2025-03-10", reserved=1.0)
    led.settle(0.4, 0.3, "2025-03-10")
    assert [led.spent_day, led.spent_month, led.reserved] == pytest.approx([0.3, 0.3, 0.6])
    led.roll("2025-03-11")
    led.settle(0.6, 0.5, "2025-03-10")  # reserved yesterday, finished today: this month, not today
    assert [led.spent_day, led.spent_month, led.reserved] == pytest.approx([0.0, 0.8, 0.0])


def test_utc_calendar_helpers() -> None:
    ts = calendar.timegm((2025, 12, 31, 23, 0, 0, 0, 0, 0))
    assert utc_day(ts) == "2025-12-31"
    assert seconds_to_next_day(ts) == pytest.approx(3600.0)
    assert seconds_to_next_month(ts) == pytest.approx(3600.0)
    mid = calendar.timegm((2025, 2, 14, 0, 0, 0, 0, 0, 0))
    assert seconds_to_next_month(mid) == pytest.approx(15 * 86400.0)
