"""The AnswerCheck hooks the cascade uses: prepare, restore, escalates and the Ask callback."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from smallfirst.core.errors import UpstreamUnavailableError
from smallfirst.core.protocols import AnswerCheck, Ask, Policy
from smallfirst.core.tiers import Endpoint, Tier
from smallfirst.core.types import Capabilities, ChatRequest, ChatResponse, Price, Signals
from smallfirst.engine import Engine
from smallfirst.request import RequestContext
from tests.unit.engine.test_engine import PRICE, ListStore, LocalOnly, Scripted, StartAt, make, req


class Recording(Scripted):
    def __init__(self, model: str) -> None:
        super().__init__(model)
        self.sent: list[ChatRequest] = []

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.sent.append(request)
        return await super().complete(request)


def recording_engine(*, policies: Sequence[Policy] = ()) -> tuple[Engine, list[Recording]]:
    rec = [Recording("small"), Recording("medium"), Recording("large")]
    tiers = [Tier("local", [Endpoint(rec[0], Price(0, 0), True, "local")]),
             Tier("mid", [Endpoint(rec[1], PRICE, False, "eu")]),
             Tier("frontier", [Endpoint(rec[2], PRICE, False, "us")])]
    return Engine(tiers, StartAt("local"), ListStore(), signals=lambda r: Signals(), policies=policies), rec


class Hooks(AnswerCheck):
    """Marks the request per tier, rejects the local answer, asks for samples and a verifier."""

    def __init__(self, *, reject: str | None = "low_confidence", escalate: bool = True, samples: int = 0,
                 verify: bool = False) -> None:
        self.reject, self.escalate, self.samples, self.verify = reject, escalate, samples, verify
        self.seen: list[tuple[str, str | None]] = []
        self.verdicts: list[ChatResponse | None] = []

    def applies(self, request: ChatRequest, signals: Signals) -> bool:
        return True

    def prepare(self, request: ChatRequest, signals: Signals, tier: str, capabilities: Capabilities) -> ChatRequest:
        return replace(request, metadata={"prepared_for": tier})

    async def check(self, request: ChatRequest, signals: Signals, response: ChatResponse, tier: str,
                    ask: Ask) -> str | None:
        self.seen.append((tier, request.metadata.get("prepared_for")))
        for _ in range(self.samples):
            await ask(request, purpose="sample")
        if self.verify:
            self.verdicts.append(await ask(request, purpose="verify", higher=True))
        return self.reject if tier == "local" else None

    def restore(self, request: ChatRequest, response: ChatResponse) -> ChatResponse:
        return replace(response, message={**response.message, "content": response.content.upper()})

    def escalates(self, request: ChatRequest) -> bool:
        return self.escalate


def test_prepare_shapes_each_tier_request_and_restore_the_answer() -> None:
    eng, rec = recording_engine()
    hooks = Hooks()
    eng.checker = hooks
    resp, d = asyncio.run(eng.complete(req(), RequestContext()))
    assert [r.metadata for r in rec[0].sent] == [{"prepared_for": "local"}]
    assert [r.metadata for r in rec[1].sent] == [{"prepared_for": "mid"}]
    assert hooks.seen == [("local", "local"), ("mid", "mid")]
    assert resp.content == "FROM MEDIUM" and d.tier == "mid"


def test_escalation_off_returns_the_rejected_answer_with_the_reason() -> None:
    eng, rec = recording_engine()
    eng.checker = Hooks(escalate=False)
    resp, d = asyncio.run(eng.complete(req(), RequestContext()))
    assert resp.content == "FROM SMALL" and d.tier == "local" and d.escalations == () and rec[1].sent == []
    assert "low_confidence" in d.reason and "escalation is off" in d.reason
    assert [a.outcome for a in d.attempts] == ["low_confidence"]


def test_samples_are_attempts_on_the_same_endpoint_before_the_verdict() -> None:
    eng, rec = recording_engine()
    eng.checker = Hooks(reject=None, samples=2)
    _, d = asyncio.run(eng.complete(req(), RequestContext()))
    assert len(rec[0].sent) == 3 and rec[1].sent == []
    assert [(a.tier, a.outcome) for a in d.attempts] == [("local", "sample"), ("local", "sample"), ("local", "ok")]


def test_verifier_call_goes_to_the_next_tier_and_its_cost_is_counted() -> None:
    eng, rec = recording_engine()
    hooks = Hooks(reject=None, verify=True)
    eng.checker = hooks
    _, d = asyncio.run(eng.complete(req(), RequestContext()))
    assert d.tier == "local" and len(rec[1].sent) == 1 and rec[2].sent == []
    assert [(a.tier, a.outcome) for a in d.attempts] == [("mid", "verify"), ("local", "ok")]
    assert d.cost_usd > 0 and d.cost_usd == sum(a.cost_usd for a in d.attempts)
    assert hooks.verdicts[0] is not None and hooks.verdicts[0].content == "from medium"


def test_verifier_respects_the_plan_pinned_local() -> None:
    eng, rec = recording_engine(policies=[LocalOnly()])
    hooks = Hooks(reject=None, verify=True)
    eng.checker = hooks
    _, d = asyncio.run(eng.complete(req(), RequestContext()))
    assert hooks.verdicts == [None] and rec[1].sent == [] and d.cost_usd == 0
    assert [a.outcome for a in d.attempts] == ["ok"]


def test_failed_ask_is_logged_and_returns_none() -> None:
    eng, _, _ = make(mid_fail=UpstreamUnavailableError("down"))
    hooks = Hooks(reject=None, verify=True)
    eng.checker = hooks
    _, d = asyncio.run(eng.complete(req(), RequestContext()))
    assert hooks.verdicts == [None]
    assert [(a.tier, a.outcome) for a in d.attempts] == [("mid", "verify:upstream_unavailable"), ("local", "ok")]


def test_checked_stream_replays_the_restored_answer() -> None:
    eng, _ = recording_engine()
    eng.checker = Hooks()

    async def go() -> str:
        s = await eng.open_stream(req(), RequestContext())
        return "".join([c.delta.get("content", "") async for c in s])

    assert asyncio.run(go()) == "FROM MEDIUM"


def test_escalation_cap_is_named_when_it_stops_the_cascade() -> None:
    eng, _bs, _ = make(max_esc=0)
    eng.checker = Hooks()
    _, d = asyncio.run(eng.complete(req(), RequestContext()))
    assert d.tier == "local" and "escalation cap" in d.reason and d.escalations == ()
