"""ContractCheck: what it asks each tier for, how it judges answers, and what it hands back."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from smallfirst.cascade.checker import ContractCheck
from smallfirst.config.cascade import CascadeConfig
from smallfirst.core.types import Capabilities, ChatRequest, ChatResponse, Signals, Usage

CFG = CascadeConfig.model_validate({"tasks": [
    {"name": "sentiment", "labels": ["positive", "negative"], "min_confidence": 0.6},
    {"name": "person", "json_schema": {"type": "object", "required": ["name"]}},
    {"name": "vote", "labels": ["yes", "no"], "self_consistency": 3, "min_agreement": 0.6},
    {"name": "checked", "max_chars": 100, "verifier": True},
]})
CAPS = Capabilities(json_schema=True, logprobs=True)
SIG = Signals()


def req(task: str, **body: Any) -> ChatRequest:
    msgs = [{"role": "user", "content": "Is 'lovely' positive?"}]
    b = {"model": "smallfirst/auto", "messages": msgs, **body}
    return ChatRequest(model="smallfirst/auto", messages=msgs, body=b, metadata={"smallfirst_task": task},
                       logprobs=bool(body.get("logprobs")), response_format=body.get("response_format"))


def answer(text: str, logprobs: dict[str, Any] | None = None, finish: str = "stop") -> ChatResponse:
    return ChatResponse("m", {"role": "assistant", "content": text}, finish, Usage(5, 1), logprobs=logprobs)


class Asker:
    def __init__(self, *replies: str | None) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[ChatRequest, str, bool]] = []

    async def __call__(self, request: ChatRequest, *, purpose: str, higher: bool = False) -> ChatResponse | None:
        self.calls.append((request, purpose, higher))
        r = self.replies.pop(0)
        return None if r is None else answer(r)


def check(c: ContractCheck, r: ChatRequest, resp: ChatResponse, ask: Asker | None = None, tier: str = "local"
          ) -> str | None:
    return asyncio.run(c.check(r, SIG, resp, tier, ask or Asker()))


def test_local_tier_gets_label_constraint_and_logprobs() -> None:
    c = ContractCheck(CFG, ["local"])
    r = req("sentiment")
    assert c.applies(r, SIG)
    p = c.prepare(r, SIG, "local", CAPS)
    fmt = p.body["response_format"]
    assert fmt["json_schema"]["schema"] == {"type": "string", "enum": ["positive", "negative"]}
    assert p.response_format == fmt and p.logprobs and p.body["logprobs"] is True and p.body["top_logprobs"] == 20
    up = c.prepare(r, SIG, "frontier", CAPS)
    assert "response_format" not in up.body and up.logprobs  # upper tiers answer freely
    plain = c.prepare(r, SIG, "local", Capabilities())
    assert plain is r  # nothing the backend could do


def test_client_response_format_and_tools_are_never_overridden() -> None:
    c = ContractCheck(CFG, ["local"])
    r = req("person", response_format={"type": "json_object"})
    assert c.prepare(r, SIG, "local", CAPS).body["response_format"] == {"type": "json_object"}
    t = req("person", tools=[{"type": "function", "function": {"name": "f"}}])
    assert "response_format" not in c.prepare(t, SIG, "local", CAPS).body


def test_request_without_contract_is_left_alone() -> None:
    c = ContractCheck(CFG, ["local"])
    r = ChatRequest(model="m", messages=[], body={"model": "m", "messages": []})
    assert not c.applies(r, SIG) and c.prepare(r, SIG, "local", CAPS) is r
    assert check(c, r, answer("anything")) is None


def _label_lp(pos: float, neg: float) -> dict[str, Any]:
    top = [{"token": "positive", "logprob": math.log(pos)}, {"token": "negative", "logprob": math.log(neg)}]
    return {"content": [{"token": '"', "logprob": -3.0, "top_logprobs": top},
                        {"token": "positive", "logprob": -1.0, "top_logprobs": []}]}


def test_label_answers_judged_by_format_then_confidence() -> None:
    c = ContractCheck(CFG, ["local"])
    r = c.prepare(req("sentiment"), SIG, "local", CAPS)
    assert check(c, r, answer('"positive"', _label_lp(0.8, 0.1))) is None
    assert check(c, r, answer('"positive"', _label_lp(0.3, 0.4))) == "low_confidence"
    assert check(c, r, answer("maybe")) == "label_not_allowed"
    assert check(c, r, answer("positive")) is None  # no log-probs: confidence unknown, not checked


def test_restore_gives_the_bare_label_and_drops_unasked_logprobs() -> None:
    c = ContractCheck(CFG, ["local"])
    r = req("sentiment")
    out = c.restore(r, answer('"positive"', _label_lp(0.8, 0.1)))
    assert out.content == "positive" and out.logprobs is None
    asked = req("sentiment", logprobs=True)
    assert c.restore(asked, answer("Negative.", _label_lp(0.8, 0.1))).logprobs is not None
    assert c.restore(asked, answer("Negative.")).content == "negative"
    j = req("person")
    assert c.restore(j, answer('{"name": "A"}')).content == '{"name": "A"}'


def test_self_consistency_draws_samples_and_needs_agreement() -> None:
    c = ContractCheck(CFG, ["local"])
    r = req("vote")
    ask = Asker("Yes", "yes.")
    assert check(c, r, answer("yes"), ask) is None
    assert len(ask.calls) == 2 and all(p == "sample" and not h for _, p, h in ask.calls)
    assert ask.calls[0][0].temperature == CFG.sample_temperature
    assert ask.calls[0][0].body["temperature"] == CFG.sample_temperature
    assert check(c, r, answer("yes"), Asker("no", "no")) == "inconsistent"
    assert check(c, r, answer("yes"), Asker("no", "yes")) is None  # 2 of 3 ≥ 0.6
    assert check(c, r, answer("yes"), Asker(None, None)) is None  # no sample could be drawn


def test_verifier_asks_the_next_tier_yes_or_no() -> None:
    c = ContractCheck(CFG, ["local"])
    r = req("checked")
    ask = Asker("Yes.")
    assert check(c, r, answer("Paris"), ask) is None
    sent, purpose, higher = ask.calls[0]
    assert purpose == "verify" and higher and "Paris" in sent.text() and sent.max_tokens == 3
    assert check(c, r, answer("Lyon"), Asker("No")) == "verifier_rejected"
    assert check(c, r, answer("Lyon"), Asker(None)) is None  # no higher tier may be asked


def test_tool_call_answers_are_not_held_to_the_contract() -> None:
    c = ContractCheck(CFG, ["local"])
    resp = ChatResponse("m", {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}, "tool_calls",
                        Usage())
    assert check(c, req("sentiment"), resp) is None


def test_escalation_switch() -> None:
    cfg = CascadeConfig.model_validate({"tasks": [{"name": "t", "labels": ["a"], "escalate": False}]})
    c = ContractCheck(cfg, ["local"])
    assert not c.escalates(req("t")) and ContractCheck(CFG, []).escalates(req("sentiment"))
