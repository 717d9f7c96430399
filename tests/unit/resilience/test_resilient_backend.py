from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from smallfirst.backends.fake import FakeBackend
from smallfirst.config.schema import EndpointConfig, Settings, TierConfig
from smallfirst.core.errors import (
    CircuitOpenError,
    StreamInterruptedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from smallfirst.core.protocols import Backend
from smallfirst.core.types import Capabilities, ChatChunk, ChatRequest, ChatResponse, Usage
from smallfirst.pipeline import build_tiers
from smallfirst.resilience import CircuitBreaker, ResilientBackend
from smallfirst.resilience import metrics as rmetrics

REQ = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}], body={})
Step = BaseException | str  # "ok", "cut" (stream: one chunk, then the connection drops)


class Scripted(Backend):
    """A backend that follows a script of outcomes, one per call."""

    name = "scripted"
    model = "m"

    def __init__(self, *script: Step) -> None:
        self.script = list(script)
        self.calls = 0

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities()

    def _next(self) -> Step:
        self.calls += 1
        return self.script.pop(0) if self.script else "ok"

    async def complete(self, request: ChatRequest) -> ChatResponse:
        step = self._next()
        if isinstance(step, BaseException):
            raise step
        return ChatResponse(model="m", message={"role": "assistant", "content": "ok"}, finish_reason="stop",
                            usage=Usage(1, 1))

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        step = self._next()
        if isinstance(step, BaseException):
            raise step
        yield ChatChunk(delta={"content": "a"})
        if step == "cut":
            raise StreamInterruptedError("scripted: cut", hint="")
        yield ChatChunk(delta={}, finish_reason="stop")

    async def health(self) -> dict[str, Any]:
        return {"ok": True}

    async def aclose(self) -> None:
        return None


def wrap(inner: Backend, *, retries: int = 0, threshold: int = 3, **kw: Any) -> ResilientBackend:
    return ResilientBackend(inner, retries=retries, breaker=CircuitBreaker(threshold, 60.0),
                            rng=random.Random(0), **kw)


async def collect(b: Backend) -> list[ChatChunk]:
    return [c async for c in b.stream(REQ)]


def down() -> UpstreamUnavailableError:
    return UpstreamUnavailableError("scripted: refused", hint="")


def test_transient_errors_are_retried_then_succeed() -> None:
    inner = Scripted(down(), UpstreamTimeoutError("t", hint=""), "ok")
    b = wrap(inner, retries=2)
    assert asyncio.run(b.complete(REQ)).content == "ok"
    assert inner.calls == 3 and b.retried_total == 2 and b.breaker.state == "closed"


@pytest.mark.parametrize("err", [UpstreamBadRequestError("400", hint=""), UpstreamAuthError("401", hint=""),
                                 UpstreamRateLimitError("429", hint="", retry_after_s=30.0)])
def test_permanent_errors_and_long_retry_after_are_not_retried(err: UpstreamError) -> None:
    inner = Scripted(err, "ok")
    b = wrap(inner, retries=3)
    with pytest.raises(type(err)):
        asyncio.run(b.complete(REQ))
    assert inner.calls == 1 and b.retried_total == 0


def test_short_retry_after_is_honoured() -> None:
    inner = Scripted(UpstreamRateLimitError("429", hint="", retry_after_s=0.05), "ok")
    b = wrap(inner, retries=1)

    async def timed() -> float:
        loop = asyncio.get_running_loop()
        t = loop.time()
        await b.complete(REQ)
        return loop.time() - t

    assert asyncio.run(timed()) >= 0.05 and inner.calls == 2


def test_breaker_opens_refuses_then_probes_and_recovers() -> None:
    now = [0.0]
    inner = Scripted(down(), down(), down())
    b = ResilientBackend(inner, breaker=CircuitBreaker(3, 10.0, clock=lambda: now[0]))
    for _ in range(3):
        with pytest.raises(UpstreamUnavailableError):
            asyncio.run(b.complete(REQ))
    with pytest.raises(CircuitOpenError, match="circuit open after 3 consecutive failures") as e:
        asyncio.run(b.complete(REQ))
    assert inner.calls == 3 and e.value.retry_after_s == pytest.approx(10.0) and e.value.retryable
    health = asyncio.run(b.health())
    assert health["ok"] is False and health["breaker"]["state"] == "open"
    now[0] = 10.0
    assert asyncio.run(b.complete(REQ)).content == "ok"  # the half-open probe
    assert b.breaker.state == "closed" and asyncio.run(b.health())["breaker"]["state"] == "closed"


def test_bad_requests_do_not_open_the_breaker() -> None:
    inner = Scripted(*[UpstreamBadRequestError("400", hint="") for _ in range(5)])
    b = wrap(inner, threshold=2)
    for _ in range(5):
        with pytest.raises(UpstreamBadRequestError):
            asyncio.run(b.complete(REQ))
    assert b.breaker.state == "closed"


def test_retries_stop_when_the_breaker_opens() -> None:
    inner = Scripted(down(), down(), down(), down())
    b = wrap(inner, retries=5, threshold=2)
    with pytest.raises(UpstreamUnavailableError):  # the real error, not "circuit open"
        asyncio.run(b.complete(REQ))
    assert inner.calls == 2 and b.breaker.state == "open"


def test_stream_retries_before_first_chunk_and_counts_mid_stream_cuts() -> None:
    inner = Scripted(down(), "ok", "cut")
    b = wrap(inner, retries=1, threshold=5)
    assert [c.finish_reason for c in asyncio.run(collect(b))] == [None, "stop"]
    with pytest.raises(StreamInterruptedError):
        asyncio.run(collect(b))
    assert b.breaker.snapshot()["consecutive_failures"] == 1


def test_first_token_timeout_fails_the_attempt() -> None:
    slow = FakeBackend(EndpointConfig(backend="fake", model="echo?latency_ms=300"))
    b = wrap(slow, first_token_timeout_s=0.05)
    with pytest.raises(UpstreamTimeoutError, match=r"no first token within 0\.05 s"):
        asyncio.run(collect(b))
    assert b.breaker.snapshot()["consecutive_failures"] == 1


def test_stream_total_timeout_ends_the_stream_with_an_error() -> None:
    drip = FakeBackend(EndpointConfig(backend="fake", model="echo?chunk_ms=80&reply=a b c d e f"))
    b = wrap(drip, stream_timeout_s=0.2)
    got: list[ChatChunk] = []

    async def run() -> None:
        async for c in b.stream(REQ):
            got.append(c)

    with pytest.raises(StreamInterruptedError, match="stream_timeout_s"):
        asyncio.run(run())
    assert 1 < len(got) < 7


def test_resolve_wraps_every_endpoint_and_metrics_show_breakers() -> None:
    s = Settings(tiers=[TierConfig(name="local", endpoints=[EndpointConfig(backend="fake", model="echo",
                                                                          breaker_failures=1, retries=2)])])
    (tier,) = build_tiers(s)
    b = tier.endpoints[0].backend
    assert isinstance(b, ResilientBackend) and b.retries == 2 and b.name == "fake:echo"
    b.breaker.failure()
    reg = CollectorRegistry()
    rmetrics.register(reg, [tier])
    text = generate_latest(reg).decode()
    assert 'smallfirst_circuit_state{endpoint="fake:echo",tier="local"} 2.0' in text
    assert 'smallfirst_circuit_opened_total{endpoint="fake:echo",tier="local"} 1.0' in text
