"""Engine behaviour with in-process Backend implementations (the protocol, not a patched vendor)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest

from smallfirst.core.errors import ModelNotFoundError, PolicyBlockedError, UpstreamError, UpstreamTimeoutError
from smallfirst.core.protocols import AnswerCheck, Ask, Backend, Policy, Router, Store
from smallfirst.core.tiers import Endpoint, Tier
from smallfirst.core.types import (
    Capabilities,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    PolicyResult,
    Price,
    RequestRecord,
    RouteChoice,
    Signals,
    Usage,
)
from smallfirst.engine import Engine
from smallfirst.request import RequestContext


class Scripted(Backend):
    def __init__(self, model: str, fail: UpstreamError | None = None) -> None:
        self.name, self.model, self.fail, self.calls = f"t:{model}", model, fail, 0

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities()

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        if self.fail:
            raise self.fail
        return ChatResponse(self.model, {"role": "assistant", "content": f"from {self.model}"}, "stop", Usage(10, 5))

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.calls += 1
        if self.fail:
            raise self.fail
        yield ChatChunk({"content": "a"})
        yield ChatChunk({"content": "b"}, "stop", Usage(10, 2))

    async def health(self) -> dict[str, Any]:
        return {"ok": self.fail is None}

    async def aclose(self) -> None:
        return None


class StartAt(Router):
    def __init__(self, tier: str) -> None:
        self.tier = tier

    def score(self, request: ChatRequest, signals: Signals) -> Mapping[str, float]:
        return {}

    def choose(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> RouteChoice:
        return RouteChoice(self.tier if self.tier in tiers else tiers[0], f"test: start at {self.tier}")


class ListStore(Store):
    def __init__(self) -> None:
        self.rows: list[RequestRecord] = []

    def record(self, record: RequestRecord) -> None:
        self.rows.append(record)

    def query(self, *, since: float | None = None, until: float | None = None,
              limit: int | None = None) -> list[RequestRecord]:
        return self.rows

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def summary(self, *, since: float, until: float, bucket_s: int) -> Mapping[str, Any]:
        raise AssertionError("the engine never reads aggregates")


class LocalOnly(Policy):
    def check(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> PolicyResult:
        return PolicyResult(tuple(t for t in tiers if t == "local"), ("residency: test",), pin_local=True)


PRICE = Price(1.0, 2.0, "test")


def make(local_fail: UpstreamError | None = None, mid_fail: UpstreamError | None = None, *, start: str = "local",
         policies: Sequence[Policy] = (), max_esc: int = 2) -> tuple[Engine, list[Scripted], ListStore]:
    bs = [Scripted("small", local_fail), Scripted("medium", mid_fail), Scripted("large")]
    tiers = [Tier("local", [Endpoint(bs[0], Price(0, 0), True, "local")]),
             Tier("mid", [Endpoint(bs[1], PRICE, False, "eu")]),
             Tier("frontier", [Endpoint(bs[2], PRICE, False, "us")])]
    store = ListStore()
    eng = Engine(tiers, StartAt(start), store, signals=lambda r: Signals(), policies=policies,
                 max_escalations=max_esc)
    return eng, bs, store


def req(model: str = "smallfirst/auto") -> ChatRequest:
    msgs = [{"role": "user", "content": "hi"}]
    return ChatRequest(model=model, messages=msgs, body={"model": model, "messages": msgs})


def test_router_start_tier_answers() -> None:
    eng, bs, _ = make()
    resp, d = asyncio.run(eng.complete(req(), RequestContext()))
    assert d.tier == "local" and resp.content == "from small" and d.escalations == ()
    assert d.cost_usd == 0 and bs[1].calls == 0


def test_failure_moves_up_the_chain_and_is_recorded() -> None:
    eng, _bs, _ = make(local_fail=UpstreamTimeoutError("slow"))
    ctx = RequestContext()
    _resp, d = asyncio.run(eng.complete(req(), ctx))
    assert d.tier == "mid" and d.escalations == ("local->mid",)
    assert [a.outcome for a in d.attempts] == ["upstream_timeout", "ok"]
    assert d.cost_usd == pytest.approx((10 * 1.0 + 5 * 2.0) / 1e6)


def test_escalation_cap() -> None:
    eng, _, _ = make(local_fail=UpstreamTimeoutError("a"), mid_fail=UpstreamTimeoutError("b"), max_esc=1)
    with pytest.raises(UpstreamTimeoutError):
        asyncio.run(eng.complete(req(), RequestContext()))


def test_pinned_tier_does_not_escalate() -> None:
    eng, bs, _ = make(local_fail=UpstreamTimeoutError("x"))
    with pytest.raises(UpstreamTimeoutError):
        asyncio.run(eng.complete(req("smallfirst/local"), RequestContext()))
    assert bs[1].calls == 0


def test_concrete_model_passes_through() -> None:
    eng, _, _ = make()
    _, d = asyncio.run(eng.complete(req("large"), RequestContext()))
    assert d.tier == "frontier" and d.reason.startswith("pinned: model")


def test_unknown_model() -> None:
    eng, _, _ = make()
    with pytest.raises(ModelNotFoundError) as ei:
        asyncio.run(eng.complete(req("gpt-9"), RequestContext()))
    assert "smallfirst/auto" in ei.value.hint


def test_policy_fail_closed_never_calls_remote() -> None:
    eng, bs, _ = make(local_fail=UpstreamTimeoutError("down"), policies=[LocalOnly()], start="frontier")
    with pytest.raises(PolicyBlockedError, match=r"upstream_timeout: down.*not sent to mid, frontier"):
        asyncio.run(eng.complete(req(), RequestContext()))
    assert bs[1].calls == 0 and bs[2].calls == 0
    with pytest.raises(PolicyBlockedError):
        asyncio.run(eng.complete(req("smallfirst/frontier"), RequestContext()))
    assert bs[2].calls == 0


def test_stream_falls_back_before_first_chunk_and_settles_cost() -> None:
    eng, _, store = make(local_fail=UpstreamTimeoutError("slow"))

    async def go() -> tuple[list[str], Any]:
        ctx = RequestContext()
        s = await eng.open_stream(req(), ctx)
        parts = [c.delta.get("content", "") async for c in s]
        d = s.settle()
        eng.record(ctx, status=200, decision=d, usage=s.usage)
        return parts, d

    parts, d = asyncio.run(go())
    assert parts == ["a", "b"] and d.tier == "mid" and d.escalations == ("local->mid",)
    assert store.rows[0].completion_tokens == 2 and store.rows[0].cost_usd > 0
    assert store.rows[0].ttft_ms is not None


def test_model_ids() -> None:
    eng, _, _ = make()
    ids = [i for i, _ in eng.model_ids()]
    assert ids[:4] == ["smallfirst/auto", "smallfirst/local", "smallfirst/mid", "smallfirst/frontier"]
    assert {"small", "medium", "large"} <= set(ids)


class RejectTier(AnswerCheck):
    def __init__(self, tier: str, reason: str = "schema_invalid") -> None:
        self.tier, self.reason = tier, reason

    def applies(self, request: ChatRequest, signals: Signals) -> bool:
        return True

    async def check(self, request: ChatRequest, signals: Signals, response: ChatResponse, tier: str,
                    ask: Ask) -> str | None:
        return self.reason if tier == self.tier else None


def test_failed_check_escalates_and_counts_the_rejected_attempt() -> None:
    eng, _bs, _ = make()
    eng.checker = RejectTier("local")
    ctx = RequestContext()
    resp, d = asyncio.run(eng.complete(req(), ctx))
    assert d.tier == "mid" and resp.content == "from medium"
    assert [a.outcome for a in d.attempts] == ["schema_invalid", "ok"]
    assert d.escalations == ("local->mid",)
    assert d.attempts[0].usage.completion_tokens == 5  # the rejected answer's tokens are counted


def test_failed_check_at_top_of_chain_is_accepted_with_reason() -> None:
    eng, _, _ = make(start="frontier")
    eng.checker = RejectTier("frontier", "low_confidence")
    ctx = RequestContext()
    _, d = asyncio.run(eng.complete(req(), ctx))
    assert d.tier == "frontier" and "low_confidence" in d.reason


def test_checked_stream_sends_nothing_before_the_check() -> None:
    eng, _bs, _ = make()
    eng.checker = RejectTier("local")

    async def go() -> tuple[list[Any], Any]:
        ctx = RequestContext()
        s = await eng.open_stream(req(), ctx)
        chunks = [c async for c in s]
        return chunks, s.settle()

    chunks, d = asyncio.run(go())
    assert "".join(c.delta.get("content", "") for c in chunks) == "from medium"
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage == Usage(10, 5)
    assert d.tier == "mid" and [a.outcome for a in d.attempts] == ["schema_invalid", "ok"]
