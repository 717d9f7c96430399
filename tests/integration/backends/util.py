"""Helpers shared by the backend integration tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smallfirst.core.protocols import Backend
from smallfirst.core.types import ChatChunk, ChatRequest

MakeBackend = Callable[..., Backend]


def chat(text: str = "hello there world", **body: Any) -> ChatRequest:
    """A request as the gateway builds it: the client's body plus the parsed fields."""
    msgs = body.pop("messages", None) or [{"role": "user", "content": text}]
    full = {"model": "client-model", "messages": msgs, **body}
    return ChatRequest(model="client-model", messages=msgs, body=full, stream=bool(body.get("stream")),
                       max_tokens=body.get("max_tokens"), temperature=body.get("temperature"),
                       response_format=body.get("response_format"), tools=body.get("tools"),
                       logprobs=bool(body.get("logprobs")), metadata=body.get("metadata") or {})


async def collect(backend: Backend, request: ChatRequest) -> list[ChatChunk]:
    return [c async for c in backend.stream(request)]


def text_of(chunks: list[ChatChunk]) -> str:
    return "".join(c.delta.get("content") or "" for c in chunks)
