"""Latency budget: local tiers that cannot answer within the request's budget are skipped (it escalates).

The budget is the ``x-smallfirst-max-latency-ms`` header, else the caller's key's entry in
``[routing] key_max_latency_ms``, else ``[routing] max_latency_ms``. A local tier
meets it when one of its endpoints is expected to: the wait the runtime monitor predicts (a cold model's
load, the requests queued ahead, :mod:`smallfirst.runtime`) plus the endpoint's learned service time.
Endpoints the monitor does not watch (in-process models, unknown servers) are taken to meet it. Only
``smallfirst/auto`` requests are steered: a pinned tier or model is served where it was pinned.

A sensitive request (``Signals.sensitive_classes``) does not leave for a faster tier: it waits locally
(``[routing] over_budget_sensitive = "wait"``, the reason in ``x-smallfirst-reason``) or fails closed with a
503 (``"fail"``, the reason in the message and in ``x-smallfirst-reason``). When no other tier may serve
the request, it waits too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from smallfirst.core.errors import BadRequestError, PolicyBlockedError
from smallfirst.core.protocols import Policy
from smallfirst.core.tiers import Tier
from smallfirst.core.types import AUTO_MODEL, ChatRequest, PolicyResult, Signals

HEADER = "x-smallfirst-max-latency-ms"


class LatencyBudgetError(PolicyBlockedError):
    """A sensitive request's latency budget cannot be met on this host and it may not leave (fail closed)."""

    status = 503
    error_type = "policy_error"
    code = "latency_budget"
    retryable = True
    client_retry = False

    def __init__(self, message: str, *, hint: str = "", reason: str = "", retry_after_s: float = 1.0) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason  # sent as x-smallfirst-reason
        self.retry_after_s = retry_after_s


class LatencyBudgetPolicy(Policy):
    """``expected_ms(endpoint name)``: the expected latency, or None when nothing is known about it."""

    def __init__(self, tiers: Sequence[Tier], expected_ms: Callable[[str], float | None], *,
                 default_ms: float | None = None, by_key: Mapping[str, float] | None = None,
                 sensitive: str = "wait") -> None:
        self._local = {t.name: tuple(e.backend.name for e in t.endpoints) for t in tiers if t.is_local}
        self._expected = expected_ms
        self._default = default_ms
        self._by_key = dict(by_key or {})  # API key id → budget
        self._fail = sensitive == "fail"

    def budget(self, request: ChatRequest) -> float | None:
        raw = request.headers.get(HEADER)
        if raw is None:
            key = request.api_key_id
            return self._by_key.get(key, self._default) if key is not None else self._default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not math.isfinite(value) or value <= 0:
            raise BadRequestError(f"{HEADER} must be a positive number of milliseconds, got {raw[:40]!r}",
                                  param=HEADER, hint=f"send e.g. {HEADER}: 2000, or leave the header out")
        return value

    def _best(self, tier: str) -> float:
        """The lowest expected latency of the tier's endpoints (0 when one is not watched)."""
        best = math.inf
        for name in self._local[tier]:
            e = self._expected(name)
            if e is None:
                return 0.0
            best = min(best, e)
        return best

    def check(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> PolicyResult:
        budget = self.budget(request)
        if budget is None or request.model != AUTO_MODEL:  # a pinned tier or model is served where it was pinned
            return PolicyResult(allowed=tuple(tiers))
        slow = {t: self._best(t) for t in tiers if t in self._local}
        slow = {t: ms for t, ms in slow.items() if ms > budget}
        if not slow:
            return PolicyResult(allowed=tuple(tiers))
        what = ", ".join(f"{t} {_ms(ms)}" for t, ms in slow.items())
        others = tuple(t for t in tiers if t not in slow)
        if signals.sensitive_classes:
            classes = ",".join(signals.sensitive_classes)
            if self._fail:
                reason = f"latency budget {budget:.0f} ms: local expected {what}; sensitive ({classes}) may not leave"
                wait = min(slow.values())
                raise LatencyBudgetError(f"{reason}; failing closed ([routing] over_budget_sensitive = \"fail\")",
                                         hint="retry later, raise the budget, or set over_budget_sensitive = "
                                              "\"wait\"", reason=reason,
                                         retry_after_s=wait / 1000 if math.isfinite(wait) else 5.0)
            return PolicyResult(allowed=tuple(tiers), reasons=(
                f"latency budget {budget:.0f} ms: local expected {what}; sensitive ({classes}) waits locally",))
        if not others:
            return PolicyResult(allowed=tuple(tiers), reasons=(
                f"latency budget {budget:.0f} ms: local expected {what}; no other tier may serve it, waits",))
        return PolicyResult(allowed=others, reasons=(
            f"latency budget {budget:.0f} ms: skipped {what} (cold model or queue)",))


def _ms(ms: float) -> str:
    return "unreachable" if math.isinf(ms) else f"~{ms:.0f} ms"
