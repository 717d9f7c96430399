"""What a request needs (smallfirst.core.needs), and the capability policy that reads it."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.config.loader import parse
from smallfirst.core.needs import NONE, needs_of
from smallfirst.core.types import Capabilities, ChatRequest
from smallfirst.pipeline.endpoints import build_tiers
from smallfirst.policy.capability import CapabilityMissingError, CapabilityPolicy
from smallfirst.signals.extract import extract

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
IMG = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}


def req(messages: list[dict[str, Any]], **body: Any) -> ChatRequest:
    full = {"model": "smallfirst/auto", "messages": messages, **body}
    return ChatRequest(model=full["model"], messages=messages, body=full, tools=body.get("tools"),
                       response_format=body.get("response_format"))


def test_a_plain_chat_needs_nothing() -> None:
    assert needs_of(req([{"role": "user", "content": "hi"}])) is NONE
    assert needs_of(req([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])) is NONE


def test_hard_needs_are_named_when_missing() -> None:
    n = needs_of(req([{"role": "user", "content": [{"type": "text", "text": "hi"}, IMG]}], n=2))
    assert n.hard and n.images and n.choices == 2
    assert n.missing(Capabilities()) == ("image input", "n=2 answers in one call")
    assert n.missing(Capabilities(images=True, choices=True)) == ()


@pytest.mark.parametrize(("choice", "caps", "missing"), [
    ({"type": "function", "function": {"name": "f"}}, Capabilities(named_tools=True), ()),
    ({"type": "function", "function": {"name": "f"}}, Capabilities(), ("a named tool call",)),
    ("required", Capabilities(named_tools=True), ()),  # one tool offered: a named call is the same
    ("required", Capabilities(tools=True), ()),
])
def test_forced_tool_calls(choice: Any, caps: Capabilities, missing: tuple[str, ...]) -> None:
    n = needs_of(req([{"role": "user", "content": "x"}], tools=[TOOL], tool_choice=choice))
    assert n.forced_tool and n.missing(caps) == missing


def test_auto_tools_and_tool_history_are_soft() -> None:
    auto = needs_of(req([{"role": "user", "content": "x"}], tools=[TOOL]))
    assert auto.tools and not auto.hard and not auto.prefers(Capabilities()) and auto.prefers(Capabilities(tools=True))
    history = needs_of(req([{"role": "user", "content": "x"},
                            {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
                            {"role": "tool", "tool_call_id": "1", "content": "42"}]))
    assert history.tool_history and history.soft
    assert needs_of(req([{"role": "user", "content": "x"}], tools=[TOOL], tool_choice="none")) is NONE


def policy() -> CapabilityPolicy:
    s = parse({"residency": {"enabled": False}, "tiers": [
        {"name": "local", "endpoints": [{"backend": "fake", "model": "echo", "capabilities": {"tools": False}}]},
        {"name": "mid", "endpoints": [{"backend": "fake", "model": "echo", "name": "m",
                                       "capabilities": {"images": True}}]}]})
    return CapabilityPolicy(build_tiers(s))


def test_policy_keeps_capable_tiers_and_refuses_clearly() -> None:
    p = policy()
    r = req([{"role": "user", "content": [IMG]}])
    got = p.check(r, extract(r), ["local", "mid"])
    assert got.allowed == ("mid",) and "local cannot do image input" in got.reasons[0]
    with pytest.raises(CapabilityMissingError) as err:
        p.check(r, extract(r), ["local"])
    assert "mid could, but residency or the API key excludes it" in err.value.message


def test_soft_needs_prefer_but_never_refuse_and_leave_pinned_models_alone() -> None:
    p = policy()
    r = req([{"role": "user", "content": "x"}], tools=[TOOL])
    assert p.check(r, extract(r), ["local", "mid"]).allowed == ("mid",)
    assert p.check(r, extract(r), ["local"]).allowed == ("local",)  # nobody declares tools: answered without
    pinned = ChatRequest(model="smallfirst/local", messages=r.messages, body=r.body, tools=r.tools)
    assert p.check(pinned, extract(pinned), ["local", "mid"]).allowed == ("local", "mid")
