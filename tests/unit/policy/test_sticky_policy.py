"""Conversation stickiness (smallfirst.policy.sticky): keys, floors, expiry, bounds."""

from __future__ import annotations

from typing import Any

from smallfirst.core.types import ChatRequest, Signals
from smallfirst.policy.sticky import StickyPolicy, key_after, key_of

TIERS = ["local", "mid", "frontier"]


def req(messages: list[dict[str, Any]], model: str = "smallfirst/auto", **meta: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=messages, body={"model": model, "messages": messages}, metadata=meta)


def test_an_unnamed_conversation_is_known_by_its_opening_and_the_answer_given() -> None:
    first = req([{"role": "user", "content": "plan my trip"}])
    assert key_of(first) is None
    later = req([{"role": "user", "content": "plan my trip"}, {"role": "assistant", "content": "Where to?"},
                 {"role": "user", "content": "Rome"}])
    assert key_of(later) == key_after(first, "Where to?")
    other = req([{"role": "user", "content": "plan my trip"}, {"role": "assistant", "content": "Sure."},
                 {"role": "user", "content": "Rome"}])
    assert key_of(other) != key_of(later)


def test_a_floor_is_kept_then_expires_and_memory_is_bounded() -> None:
    now = [0.0]
    p = StickyPolicy(TIERS, ttl_s=10, max_conversations=2, clock=lambda: now[0])
    first = req([{"role": "user", "content": "hard question"}])
    p.served(first, "mid", "an answer")
    later = req([{"role": "user", "content": "hard question"}, {"role": "assistant", "content": "an answer"},
                 {"role": "user", "content": "and then?"}])
    got = p.check(later, Signals(), TIERS)
    assert got.allowed == ("mid", "frontier") and "sticky" in got.reasons[0]
    assert p.check(later, Signals(), ["local"]).allowed == ("local",)  # another policy kept it below: it wins
    pinned = req(later.messages, model="smallfirst/local")
    assert p.check(pinned, Signals(), TIERS).allowed == tuple(TIERS)
    now[0] = 11.0
    assert p.check(later, Signals(), TIERS).allowed == tuple(TIERS)
    for i in range(3):
        p.served(req([{"role": "user", "content": "q"}], conversation_id=f"c{i}"), "frontier", "")
    assert len(p._floor) == 2


def test_the_lowest_tier_never_makes_a_conversation_sticky() -> None:
    p = StickyPolicy(TIERS)
    p.served(req([{"role": "user", "content": "hi"}], conversation_id="c"), "local", "hello")
    assert p.check(req([{"role": "user", "content": "hi"}], conversation_id="c"), Signals(), TIERS).allowed == \
        tuple(TIERS)
