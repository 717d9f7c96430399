"""The cascade's :class:`~smallfirst.core.protocols.AnswerCheck`: a request's contract, checked per tier.

Per tier the engine calls, in order:

1. :meth:`ContractCheck.prepare` — ask for what the check needs: log-probs (with 20 alternatives for
   label confidence) when the contract sets ``min_confidence``; on local tiers that support JSON
   schema, constrained output (the contract's schema, or an enum of its labels) when the client sent
   no ``response_format``.
2. :meth:`ContractCheck.check` — tool calls, when the request offers tools (names, JSON arguments, the
   tools' schemas, a forced ``tool_choice``: :mod:`.tool_calls`; also with ``enabled = false`` unless
   ``check_tool_calls = false``); else format (labels, JSON schema, required fields, regex, length,
   refusal/uncertainty markers), then confidence, then optional self-consistency (k-1 more samples
   from the same endpoint must agree) and an optional verifier (the next tier up judges the answer;
   only a tier the request may use, and its cost is logged).
3. :meth:`ContractCheck.restore` — the answer as the client asked for it: a label-constrained answer
   (a JSON string) becomes the bare declared label; log-probs the client did not ask for are dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import replace
from typing import Any

from smallfirst.cascade.confidence import confidence
from smallfirst.cascade.contract import Contract, Markers
from smallfirst.cascade.contracts import Contracts
from smallfirst.cascade.tool_calls import tool_call_problem
from smallfirst.config.cascade import CascadeConfig
from smallfirst.core.protocols import AnswerCheck, Ask
from smallfirst.core.types import Capabilities, ChatRequest, ChatResponse, Signals

LABEL_TOP_LOGPROBS = 20  # alternatives per token for the label confidence (OpenAI's maximum)
CONSTRAINT_NAME = "smallfirst_contract"
VERIFY_SYSTEM = ("You check another assistant's answer. Reply with exactly one word: yes if the answer is "
                 "correct and does what the request asks, no otherwise.")


def constrained_format(contract: Contract) -> dict[str, Any] | None:
    """The ``response_format`` that makes a model answer within the contract, if one exists."""
    schema = contract.spec.json_schema
    if schema is None and contract.labels:
        schema = {"type": "string", "enum": list(contract.labels)}
    if schema is None:
        return None
    return {"type": "json_schema", "json_schema": {"name": CONSTRAINT_NAME, "schema": schema}}


def client_wants_logprobs(request: ChatRequest) -> bool:
    return request.logprobs or bool(request.body.get("logprobs"))


def verify_request(request: ChatRequest, answer: str) -> ChatRequest:
    """A yes/no question to a higher tier about the answer."""
    text = (f"Request:\n{request.text()}\n\nProposed answer:\n{answer}\n\n"
            "Is the proposed answer correct, and does it do what the request asks? Reply yes or no.")
    msgs = [{"role": "system", "content": VERIFY_SYSTEM}, {"role": "user", "content": text}]
    body = {"model": request.model, "messages": msgs, "max_tokens": 3, "temperature": 0}
    return ChatRequest(model=request.model, messages=msgs, body=body, max_tokens=3, temperature=0.0,
                       headers=request.headers, api_key_id=request.api_key_id)


class ContractCheck(AnswerCheck):
    """Checks answers against the request's contract; see the module docstring."""

    def __init__(self, cfg: CascadeConfig, local_tiers: Collection[str]) -> None:
        self.cfg = cfg
        self.contracts = Contracts(cfg)
        self.markers = Markers.compile(cfg.refusal_markers, cfg.uncertainty_markers)
        self.local_tiers = frozenset(local_tiers)

    def _contract(self, request: ChatRequest) -> Contract | None:
        return self.contracts.for_request(request) if self.cfg.enabled else None

    def _tool_checked(self, request: ChatRequest) -> bool:
        return self.cfg.check_tool_calls and bool(request.tools)

    def applies(self, request: ChatRequest, signals: Signals) -> bool:
        return self._tool_checked(request) or self._contract(request) is not None

    def escalates(self, request: ChatRequest) -> bool:
        c = self._contract(request)
        return c is None or c.spec.escalate

    def prepare(self, request: ChatRequest, signals: Signals, tier: str, capabilities: Capabilities) -> ChatRequest:
        c = self._contract(request)
        if c is None:
            return request
        body = dict(request.body)
        changes: dict[str, Any] = {}
        if c.spec.min_confidence is not None and capabilities.logprobs:
            body["logprobs"] = True
            changes["logprobs"] = True
            if c.confidence_method == "label":
                body["top_logprobs"] = max(int(body.get("top_logprobs") or 0), LABEL_TOP_LOGPROBS)
        fmt = constrained_format(c) if c.spec.constrain else None
        if (fmt is not None and tier in self.local_tiers and capabilities.json_schema
                and request.response_format is None and not (request.tools or body.get("tools"))
                and not body.get("response_format")):
            body["response_format"] = fmt
            changes["response_format"] = fmt
        if not changes:
            return request
        return replace(request, body=body, **changes)

    async def check(self, request: ChatRequest, signals: Signals, response: ChatResponse, tier: str,
                    ask: Ask) -> str | None:
        c = self._contract(request)
        if self._tool_checked(request):
            problem = tool_call_problem(request, response)
            if problem is not None or response.message.get("tool_calls"):
                return problem  # tool calls are held to the tools' schemas, not to an answer contract
        if c is None or (response.message.get("tool_calls") and not response.content):
            return None
        text = response.content
        reason = c.check_format(text, response.finish_reason, self.markers)
        if reason is not None:
            return reason
        if c.spec.min_confidence is not None:
            conf = confidence(response.logprobs, c.confidence_method, c.label_of(text), c.labels)
            if conf is not None and conf < c.spec.min_confidence:
                return "low_confidence"
        if c.spec.self_consistency >= 2 and not await self._consistent(c, request, text, ask):
            return "inconsistent"
        if c.spec.verifier:
            verdict = await ask(verify_request(request, text), purpose="verify", higher=True)
            if verdict is not None and verdict.content.strip().lower().startswith("no"):
                return "verifier_rejected"
        return None

    async def _consistent(self, c: Contract, request: ChatRequest, text: str, ask: Ask) -> bool:
        temp = self.cfg.sample_temperature
        sample = replace(request, temperature=temp, body={**request.body, "temperature": temp})
        answers = await asyncio.gather(*(ask(sample, purpose="sample") for _ in range(c.spec.self_consistency - 1)))
        got = [c.canonical(a.content) for a in answers if a is not None]
        if not got:
            return True  # no sample could be drawn: nothing to disagree with
        first = c.canonical(text)
        agree = 1 + sum(g == first for g in got)
        return agree / (1 + len(got)) >= c.spec.min_agreement

    def restore(self, request: ChatRequest, response: ChatResponse) -> ChatResponse:
        c = self._contract(request)
        out = response
        if c is not None and c.labels and request.response_format is None and response.content:
            label = c.label_of(response.content)
            if label is not None and label != response.content:
                out = replace(out, message={**out.message, "content": label})
        if out.logprobs is not None and not client_wants_logprobs(request):
            out = replace(out, logprobs=None)
        return out


def local_tier_names(tiers: Collection[Any]) -> list[str]:
    """Names of the tiers whose every endpoint runs on this host (``Tier`` objects from core.tiers)."""
    return [t.name for t in tiers if t.endpoints and all(e.is_local for e in t.endpoints)]
