"""A cache hit as the request path's other answers look: a local step that replays the kept answer, and the
collector that turns a live stream back into one answer to keep."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from smallfirst.core.protocols import Backend
from smallfirst.core.tiers import Endpoint, Tier
from smallfirst.core.types import FREE, Capabilities, ChatChunk, ChatRequest, ChatResponse, Usage
from smallfirst.stream import replay

CACHE = "cache"  # the tier and endpoint name a hit is logged under


class ReplayBackend(Backend):
    """Answers with one kept response (the step a hit's stream belongs to; it calls nothing)."""

    name = CACHE

    def __init__(self, resp: ChatResponse) -> None:
        self.model = resp.model
        self._resp = resp

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities()

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return self._resp

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        for chunk in replay(self._resp):
            yield chunk

    async def health(self) -> dict[str, Any]:
        return {"ok": True}

    async def aclose(self) -> None:
        return None


def cache_tier(resp: ChatResponse) -> tuple[Tier, Endpoint]:
    ep = Endpoint(ReplayBackend(resp), FREE, True, "local")
    return Tier(CACHE, [ep]), ep


def _merge_calls(calls: dict[int, dict[str, Any]], deltas: list[Any]) -> None:
    for d in deltas:
        if not isinstance(d, dict):
            continue
        call = calls.setdefault(int(d.get("index", len(calls))), {"function": {"name": "", "arguments": ""}})
        for k in ("id", "type"):
            if d.get(k):
                call[k] = d[k]
        fn = d.get("function") or {}
        call["function"]["name"] += fn.get("name") or ""
        call["function"]["arguments"] += fn.get("arguments") or ""


async def collected(first: ChatChunk, rest: AsyncIterator[ChatChunk], model: str,
                    done: Callable[[ChatResponse], Awaitable[None]]) -> AsyncIterator[ChatChunk]:
    """Pass ``rest`` through (``first`` was already taken from it); when the stream ends cleanly with a finish
    reason, call ``done`` with the answer it made up (content and tool calls). A stream that is cut, fails or
    is abandoned by the client calls nothing."""
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish: str | None = None
    usage = Usage()

    def see(chunk: ChatChunk) -> None:
        nonlocal finish, usage
        c = chunk.delta.get("content")
        if isinstance(c, str):
            text.append(c)
        if chunk.delta.get("tool_calls"):
            _merge_calls(calls, chunk.delta["tool_calls"])
        finish = chunk.finish_reason or finish
        usage = chunk.usage or usage

    see(first)
    async for chunk in rest:
        see(chunk)
        yield chunk
    if finish is None or finish == "error":
        return
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
    if calls:
        message["tool_calls"] = [{"type": "function", **calls[i]} for i in sorted(calls)]
    await done(ChatResponse(model=model, message=message, finish_reason=finish, usage=usage))
