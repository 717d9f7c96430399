"""RedactingBackend: what a non-local endpoint receives is masked; answers are restored, streamed or not."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from smallfirst.config.schema import ResidencyConfig
from smallfirst.core.protocols import Backend
from smallfirst.core.types import Capabilities, ChatChunk, ChatRequest, ChatResponse, Usage
from smallfirst.policy.redacting import RedactingBackend
from smallfirst.policy.residency import ResidencyPolicy

EMAIL = "maria.keller@example.org"
CARD = "4111 1111 1111 1111"


class Parrot(Backend):
    """Records what it was sent; answers with the first placeholder it saw, split across chunks."""

    def __init__(self) -> None:
        self.name, self.model = "parrot", "parrot"
        self.sent: list[ChatRequest] = []

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities()

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.sent.append(request)
        text = request.text()
        return ChatResponse("parrot", {"role": "assistant", "content": f"got {text}", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "send", "arguments": json.dumps({"to": text})}}]},
            "stop", Usage(1, 1))

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.sent.append(request)
        yield ChatChunk({"content": "to [EMA"})
        yield ChatChunk({"content": "IL_1] and [CRED"})
        yield ChatChunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function",
                                         "function": {"name": "send", "arguments": '{"to": "[EMAIL'}}]})
        yield ChatChunk({"tool_calls": [{"index": 0, "function": {"arguments": '_1]", "ids": ['}}]})
        yield ChatChunk({"tool_calls": [{"index": 0, "function": {"arguments": '1]}'}}]})
        yield ChatChunk({"content": "IT_CARD_1] [unclosed"}, "stop", Usage(1, 1))

    async def health(self) -> dict[str, Any]:
        return {"ok": True}

    async def aclose(self) -> None:
        return None


def setup(**cfg: Any) -> tuple[RedactingBackend, Parrot]:
    parrot = Parrot()
    policy = ResidencyPolicy(ResidencyConfig(**cfg), {"local": ["local"], "us": ["us"]})
    return RedactingBackend(parrot, policy, "us"), parrot


def req(text: str) -> ChatRequest:
    msgs = [{"role": "user", "content": text}]
    return ChatRequest(model="smallfirst/auto", messages=msgs, body={"model": "smallfirst/auto", "messages": msgs})


def test_complete_masks_the_request_and_restores_text_and_tool_arguments() -> None:
    backend, parrot = setup(redaction=True, classes={"pii": ["*"], "financial": ["*"]})
    resp = asyncio.run(backend.complete(req(f"mail {EMAIL} about {CARD}")))
    assert parrot.sent[0].text() == "mail [EMAIL_1] about [CREDIT_CARD_1]"
    assert EMAIL not in json.dumps(parrot.sent[0].body)
    assert resp.content == f"got mail {EMAIL} about {CARD}"
    assert json.loads(resp.message["tool_calls"][0]["function"]["arguments"]) == {"to": f"mail {EMAIL} about {CARD}"}


def test_stream_restores_placeholders_split_across_chunks() -> None:
    backend, parrot = setup(redaction=True, classes={"pii": ["*"], "financial": ["*"]})

    async def collect() -> list[ChatChunk]:
        return [c async for c in backend.stream(req(f"mail {EMAIL} about {CARD}"))]

    chunks = asyncio.run(collect())
    assert EMAIL not in parrot.sent[0].text()
    text = "".join(c.delta.get("content") or "" for c in chunks)
    assert text == f"to {EMAIL} and {CARD} [unclosed"
    args = "".join(tc["function"]["arguments"] for c in chunks for tc in c.delta.get("tool_calls") or [])
    assert json.loads(args) == {"to": EMAIL, "ids": [1]}


def test_off_or_nothing_found_passes_through_unchanged() -> None:
    backend, parrot = setup(redaction=False, classes={"pii": ["*"]})
    r = req(f"mail {EMAIL}")
    asyncio.run(backend.complete(r))
    assert parrot.sent[-1] is r
    backend, parrot = setup(redaction=True)
    plain = req("hello there")
    assert asyncio.run(backend.complete(plain)).content == "got hello there" and parrot.sent[-1] is plain


def test_redaction_reports_what_is_masked_as_types_and_counts_only() -> None:
    backend, parrot = setup(redaction=True, classes={"pii": ["*"], "financial": ["*"]},
                            keys={"k-plain": {"redaction": False}})
    text = f"mail {EMAIL} and {EMAIL.upper()} about {CARD}; cc {EMAIL}"
    assert backend.redaction(req(text)) == (("credit_card", 1), ("email", 2))  # distinct values, sorted
    asyncio.run(backend.complete(req(text)))
    assert parrot.sent[-1].text().count("[EMAIL_") == 3 and "[EMAIL_2]" in parrot.sent[-1].text()
    assert backend.redaction(req("hello there")) is None  # nothing to mask: sent as is
    keyed = ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": text}],
                        body={"model": "smallfirst/auto", "messages": []}, api_key_id="k-plain")
    assert backend.redaction(keyed) is None  # this key's override turns redaction off
