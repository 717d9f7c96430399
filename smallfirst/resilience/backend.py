"""ResilientBackend: a circuit breaker, same-endpoint retries and stream time limits around any backend.

Timeouts, from the endpoint's config:

* ``connect_timeout_s`` — TCP connect (enforced by the HTTP backends' aiohttp client);
* ``timeout_s`` — a whole non-streaming answer, and the longest silence between two stream reads
  (also aiohttp; unchanged here);
* ``first_token_timeout_s`` — streams: the first chunk must arrive in time, or the attempt fails
  before any byte reached the client and the engine falls back (any backend, embedded included);
* ``stream_timeout_s`` — streams: total duration; past it the stream ends with an error event.

Retries (``retries``) happen only before the client has seen a byte, only for transient errors
(:func:`smallfirst.resilience.retry.transient`) and never while the breaker is open.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from smallfirst.config.schema import EndpointConfig
from smallfirst.core.errors import CircuitOpenError, StreamInterruptedError, UpstreamError, UpstreamTimeoutError
from smallfirst.core.protocols import Backend
from smallfirst.core.types import Capabilities, ChatChunk, ChatRequest, ChatResponse
from smallfirst.resilience.breaker import CircuitBreaker
from smallfirst.resilience.retry import backoff_s, counts_as_failure, transient


class ResilientBackend(Backend):
    """Wraps one endpoint's backend; forwards ``name``, ``model`` and ``capabilities``."""

    def __init__(self, inner: Backend, *, retries: int = 0, breaker: CircuitBreaker | None = None,
                 first_token_timeout_s: float | None = None, stream_timeout_s: float | None = None,
                 rng: random.Random | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.retries = retries
        self.breaker = breaker or CircuitBreaker(5, 30.0)
        self.first_token_timeout_s = first_token_timeout_s
        self.stream_timeout_s = stream_timeout_s
        self.retried_total = 0  # same-endpoint retries (a counter for metrics)
        self._rng = rng or random.Random()

    @classmethod
    def from_config(cls, inner: Backend, cfg: EndpointConfig) -> ResilientBackend:
        return cls(inner, retries=cfg.retries, breaker=CircuitBreaker(cfg.breaker_failures, cfg.breaker_cooldown_s),
                   first_token_timeout_s=cfg.first_token_timeout_s, stream_timeout_s=cfg.stream_timeout_s)

    def __repr__(self) -> str:
        return f"ResilientBackend({self.inner!r})"

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    # ---- breaker and retry bookkeeping ---------------------------------------------------------

    def _admit(self) -> None:
        b = self.breaker
        if not b.allow():
            wait = b.retry_in()
            raise CircuitOpenError(
                f"{self.name}: circuit open after {b.threshold} consecutive failures"
                + (f"; next probe in {wait:.1f} s" if wait else "; a probe is in flight"),
                hint="the endpoint keeps failing: check it (see /healthz), or let the tier chain fall back",
                retry_after_s=wait or 1.0)

    def _verdict(self, err: UpstreamError) -> None:
        if counts_as_failure(err):
            self.breaker.failure()
        else:  # the upstream answered (it rejected the request): it is alive
            self.breaker.success()

    def _retry_delay(self, attempt: int, err: UpstreamError) -> float | None:
        if attempt >= self.retries or not transient(err) or self.breaker.state == "open":
            return None
        return backoff_s(attempt, err, self._rng)

    async def _retry_after(self, err: UpstreamError, attempt: int) -> bool:
        """Record the failure; sleep the backoff and return True when the call should be retried."""
        self._verdict(err)
        delay = self._retry_delay(attempt, err)
        if delay is None:
            return False
        self.retried_total += 1
        await asyncio.sleep(delay)
        return True

    # ---- Backend -------------------------------------------------------------------------------

    async def complete(self, request: ChatRequest) -> ChatResponse:
        attempt = 0
        while True:
            self._admit()
            try:
                resp = await self.inner.complete(request)
            except UpstreamError as err:
                if not await self._retry_after(err, attempt):
                    raise
                attempt += 1
                continue
            except BaseException:
                self.breaker.release()
                raise
            self.breaker.success()
            return resp

    async def _first(self, it: AsyncIterator[ChatChunk]) -> ChatChunk:
        limit = self.first_token_timeout_s
        if limit is None:
            return await it.__anext__()
        try:
            async with asyncio.timeout(limit):
                return await it.__anext__()
        except TimeoutError:
            raise UpstreamTimeoutError(f"{self.name}: no first token within {limit:g} s",
                                       hint="raise first_token_timeout_s for this endpoint, or check its load"
                                       ) from None

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        attempt = 0
        t0 = time.monotonic()
        while True:
            self._admit()
            it = self.inner.stream(request).__aiter__()
            try:
                first = await self._first(it)
            except StopAsyncIteration:
                self.breaker.success()
                return
            except UpstreamError as err:
                if not await self._retry_after(err, attempt):
                    raise
                attempt += 1
                continue
            except BaseException:
                self.breaker.release()
                raise
            break
        self.breaker.success()
        yield first
        try:
            if self.stream_timeout_s is None:
                async for chunk in it:
                    yield chunk
            else:
                async for chunk in self._bounded(it, t0 + self.stream_timeout_s):
                    yield chunk
        except UpstreamError as err:
            self._verdict(err)
            raise

    async def _bounded(self, it: AsyncIterator[ChatChunk], deadline: float) -> AsyncIterator[ChatChunk]:
        while True:
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    chunk = await it.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise StreamInterruptedError(
                    f"{self.name}: the stream ran past stream_timeout_s ({self.stream_timeout_s:g} s)",
                    hint="raise stream_timeout_s for this endpoint, or ask for fewer tokens") from None
            yield chunk

    async def health(self) -> dict[str, Any]:
        info = dict(await self.inner.health())
        snap = self.breaker.snapshot()
        info["breaker"] = snap
        if snap["state"] == "open":
            info["ok"] = False
            info.setdefault("error", f"circuit open; next probe in {snap.get('retry_in_s', 0):.1f} s")
        return info

    async def aclose(self) -> None:
        await self.inner.aclose()


def resilient(backend: Backend, cfg: EndpointConfig) -> Backend:
    """Wrap a freshly built backend with the endpoint's breaker, retry and timeout settings."""
    return ResilientBackend.from_config(backend, cfg)
