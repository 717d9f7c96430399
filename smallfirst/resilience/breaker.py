"""A per-endpoint circuit breaker: closed → open after N consecutive failures → half-open probe.

* **closed**: every call goes through; a failure adds one to the streak, a success resets it; at
  ``threshold`` consecutive failures the breaker opens.
* **open**: calls are refused (the engine falls back to the next endpoint or tier) until
  ``cooldown_s`` has passed since it opened.
* **half-open**: exactly one call (the probe) goes through; success closes the breaker, failure
  opens it again for another cool-down. Other calls are refused while the probe runs.

Single-threaded by design (one asyncio loop): no locks; every method is a few attribute updates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

State = Literal["closed", "open", "half_open"]
STATE_VALUE: dict[str, int] = {"closed": 0, "half_open": 1, "open": 2}


class CircuitBreaker:
    def __init__(self, threshold: int, cooldown_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if threshold < 0 or cooldown_s <= 0:
            raise ValueError("threshold must be >= 0 (0 = off) and cooldown_s > 0")
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._state: State = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.opened_total = 0  # times the breaker opened (a counter for metrics)
        self.refused_total = 0  # calls refused while open

    @property
    def enabled(self) -> bool:
        return self.threshold > 0

    @property
    def state(self) -> State:
        if self._state == "open" and self._clock() - self._opened_at >= self.cooldown_s:
            return "half_open"
        return self._state

    def retry_in(self) -> float:
        """Seconds until the next probe may run (0 when calls are allowed)."""
        if self._state != "open":
            return 0.0
        return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """May a call go through now? In half-open state this claims the single probe slot."""
        if self._state == "closed":
            return True
        if self._state == "open":
            if self._clock() - self._opened_at < self.cooldown_s:
                self.refused_total += 1
                return False
            self._state = "half_open"
        if self._probing:
            self.refused_total += 1
            return False
        self._probing = True
        return True

    def success(self) -> None:
        self._failures = 0
        self._probing = False
        self._state = "closed"

    def failure(self) -> None:
        self._probing = False
        if not self.enabled:
            return
        self._failures += 1
        if self._state == "half_open" or self._failures >= self.threshold:
            if self._state != "open":
                self.opened_total += 1
            self._state = "open"
            self._opened_at = self._clock()

    def release(self) -> None:
        """The call ended without a verdict (e.g. the client went away first): free the probe slot."""
        self._probing = False

    def snapshot(self) -> dict[str, Any]:
        state = self.state
        out: dict[str, Any] = {"state": state, "consecutive_failures": self._failures,
                               "opened_total": self.opened_total}
        if state == "open":
            out["retry_in_s"] = round(self.retry_in(), 3)
        return out
