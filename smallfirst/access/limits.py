"""In-memory limiters: token buckets (per minute) and a USD budget ledger with reservations.

Everything here is synchronous and allocation-light; the gateway calls it on its event loop with
no ``await`` between a check and the reservation it guards, so racing requests cannot both pass a
check that only one of them fits.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass


class TokenBucket:
    """``capacity`` units refilled evenly over a minute. The level may go negative (a settled
    request that used more than it reserved); new requests then wait for the debt to refill."""

    __slots__ = ("capacity", "level", "rate", "stamp")

    def __init__(self, per_minute: int, now: float) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.level = self.capacity
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait(self, n: float, now: float) -> float:
        """Seconds until ``n`` units are available (0: now). ``n`` above capacity needs a full bucket."""
        self._refill(now)
        need = min(n, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def take(self, n: float) -> None:
        self.level -= n

    def give(self, n: float) -> None:
        self.level = min(self.capacity, self.level + n)


def utc_day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def seconds_to_next_day(ts: float) -> float:
    return 86400.0 - (ts % 86400.0)


def seconds_to_next_month(ts: float) -> float:
    t = time.gmtime(ts)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return max(1.0, calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0)) - ts)


@dataclass(slots=True)
class Ledger:
    """USD spent today / this month (UTC) plus what in-flight requests have reserved."""

    day: str
    spent_day: float = 0.0
    spent_month: float = 0.0
    reserved: float = 0.0

    @property
    def month(self) -> str:
        return self.day[:7]

    def roll(self, day: str) -> None:
        """Move to ``day``: the day's spend restarts; so does the month's when the month changed."""
        if day != self.day:
            if day[:7] != self.month:
                self.spent_month = 0.0
            self.day = day
            self.spent_day = 0.0

    def remaining(self, budget_day: float | None, budget_month: float | None) -> tuple[float, str | None]:
        """(USD left after spend and reservations, the binding window: "day", "month" or None)."""
        left, which = float("inf"), None
        if budget_day is not None:
            left, which = budget_day - self.spent_day - self.reserved, "day"
        if budget_month is not None and budget_month - self.spent_month - self.reserved < left:
            left, which = budget_month - self.spent_month - self.reserved, "month"
        return left, which

    def settle(self, reserved: float, cost: float, day: str) -> None:
        """A request reserved on ``day`` finished having cost ``cost``."""
        self.reserved = max(0.0, self.reserved - reserved)
        if day == self.day:
            self.spent_day += cost
            self.spent_month += cost
        elif day[:7] == self.month:
            self.spent_month += cost
