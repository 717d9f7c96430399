"""Fail closed: a 503 naming the residency policy only when it withheld a fallback; attempts carry locations."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from smallfirst.core.errors import PolicyBlockedError, UpstreamBadRequestError, UpstreamTimeoutError
from smallfirst.core.protocols import Policy
from smallfirst.core.tiers import Endpoint, Tier
from smallfirst.core.types import ChatRequest, PolicyResult, Price, Signals
from smallfirst.engine import Engine
from smallfirst.request import RequestContext
from tests.unit.engine.test_engine import ListStore, LocalOnly, Scripted, StartAt, make, req


class DropFrontier(Policy):
    """Removes a tier without pinning (like a per-key tier list): not a residency decision."""

    def check(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> PolicyResult:
        return PolicyResult(tuple(t for t in tiers if t != "frontier"), ("key: no frontier",))


def test_streams_fail_closed_with_the_policy_named() -> None:
    eng, bs, _ = make(local_fail=UpstreamTimeoutError("slow"), policies=[LocalOnly()])
    ctx = RequestContext()
    with pytest.raises(PolicyBlockedError, match=r"upstream_timeout: slow.*not sent to mid, frontier") as info:
        asyncio.run(eng.open_stream(req(), ctx))
    assert isinstance(info.value.__cause__, UpstreamTimeoutError)
    assert bs[1].calls == bs[2].calls == 0
    assert [(a.tier, a.location) for a in ctx.attempts] == [("local", "local")]


def test_errors_pass_through_when_nothing_was_withheld() -> None:
    # a pinning policy that removed nothing above: the upstream's own error
    only_local = [Tier("local", [Endpoint(Scripted("small", UpstreamTimeoutError("slow")), Price(0, 0), True,
                                          "local")])]
    eng = Engine(only_local, StartAt("local"), ListStore(), signals=lambda r: Signals(), policies=[LocalOnly()])
    with pytest.raises(UpstreamTimeoutError):
        asyncio.run(eng.complete(req(), RequestContext()))
    # a tier removed by a policy that does not pin: not a residency decision
    eng, _, _ = make(local_fail=UpstreamTimeoutError("a"), mid_fail=UpstreamTimeoutError("b"),
                     policies=[DropFrontier()])
    with pytest.raises(UpstreamTimeoutError):
        asyncio.run(eng.complete(req(), RequestContext()))
    # an error no fallback would have recovered from
    eng, _, _ = make(local_fail=UpstreamBadRequestError("bad"), policies=[LocalOnly()])
    with pytest.raises(UpstreamBadRequestError):
        asyncio.run(eng.complete(req(), RequestContext()))


def test_every_attempt_records_its_endpoint_location() -> None:
    eng, _, _ = make(local_fail=UpstreamTimeoutError("slow"))
    ctx = RequestContext()
    _, d = asyncio.run(eng.complete(req(), ctx))
    assert [(a.tier, a.outcome, a.location) for a in d.attempts] == [("local", "upstream_timeout", "local"),
                                                                       ("mid", "ok", "eu")]
