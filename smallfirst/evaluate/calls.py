"""Calling one endpoint the way the eval needs: a concurrency limit per backend, a timeout per try,
and retries with exponential backoff for retryable errors only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from smallfirst.core.errors import (
    ContextWindowExceededError,
    SmallfirstError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
)
from smallfirst.core.tiers import Endpoint
from smallfirst.core.types import ChatRequest, ChatResponse


@dataclass(frozen=True, slots=True)
class CallPolicy:
    retries: int = 3  # extra tries after the first, for retryable errors
    backoff_s: float = 0.5  # first wait; doubles each retry
    max_backoff_s: float = 20.0
    timeout_s: float = 120.0  # per try


@dataclass(frozen=True, slots=True)
class CallResult:
    response: ChatResponse | None
    error: SmallfirstError | None
    latency_ms: float  # of the last try, from the moment it held its concurrency slot
    tries: int
    cost_usd: float = 0.0

    @property
    def final(self) -> bool:
        """True when retrying later cannot help (success, or a non-retryable error)."""
        return self.error is None or not retryable(self.error)


def retryable(err: SmallfirstError) -> bool:
    """Worth another try on the same endpoint (a context overflow is not: the prompt stays too long)."""
    return err.retryable and not isinstance(err, ContextWindowExceededError)


def cost_of(ep: Endpoint, response: ChatResponse) -> float:
    return ep.price.cost(response.usage) if ep.price is not None else 0.0


class Caller:
    """Shared by the runner and the judge so one backend never gets more than its limit at once."""

    def __init__(self, policy: CallPolicy, limit: Callable[[Endpoint], int]) -> None:
        self.policy = policy
        self._limit = limit
        self._sems: dict[int, asyncio.Semaphore] = {}

    def semaphore(self, ep: Endpoint) -> asyncio.Semaphore:
        key = id(ep.backend)
        sem = self._sems.get(key)
        if sem is None:
            sem = self._sems[key] = asyncio.Semaphore(max(1, self._limit(ep)))
        return sem

    def _wait(self, tries: int, err: SmallfirstError) -> float:
        wait = min(self.policy.max_backoff_s, self.policy.backoff_s * 2.0 ** (tries - 1))
        hint = err.retry_after_s if isinstance(err, UpstreamRateLimitError) else None
        return min(self.policy.max_backoff_s, max(wait, hint)) if hint is not None else wait

    async def call(self, ep: Endpoint, request: ChatRequest) -> CallResult:
        tries = 0
        while True:
            tries += 1
            async with self.semaphore(ep):
                t0 = time.perf_counter()
                try:
                    async with asyncio.timeout(self.policy.timeout_s):
                        resp = await ep.backend.complete(request)
                except TimeoutError:
                    err: SmallfirstError = UpstreamTimeoutError(
                        f"{ep.backend.name}: no answer within {self.policy.timeout_s:g} s",
                        hint="raise --timeout, or lower the concurrency")
                except UpstreamError as exc:
                    err = exc
                else:
                    ms = (time.perf_counter() - t0) * 1000.0
                    return CallResult(resp, None, ms, tries, cost_of(ep, resp))
                ms = (time.perf_counter() - t0) * 1000.0
            if not retryable(err) or tries > self.policy.retries:
                return CallResult(None, err, ms, tries)
            await asyncio.sleep(self._wait(tries, err))
