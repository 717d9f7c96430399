"""Redaction on the wire: non-local endpoints receive masked requests; their answers are restored.

Only requests the residency policy already allows on a non-local tier get here (redaction never
widens the allowed set). When ``residency.redaction`` (or a key's override) is on, each detected value
is replaced by a placeholder before the request leaves the host, and the placeholders in the answer —
text and tool-call arguments, streamed or not — are put back. Every call to the endpoint goes through
this wrapper: first answers, fallbacks, escalations, and the cascade's sample and verifier calls.

The pipeline (:mod:`smallfirst.pipeline.endpoints`) puts this wrapper outside resilience on each
endpoint off the host, and sets the endpoint's ``masks`` to :meth:`RedactingBackend.redaction`: the
request log marks each attempt that left masked with the entity types and counts (never the values).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from smallfirst.core.protocols import Backend
from smallfirst.core.types import Capabilities, ChatChunk, ChatRequest, ChatResponse
from smallfirst.policy.residency import ResidencyPolicy
from smallfirst.sensitivity import RedactionMap, StreamRestorer, restore


def _restore_calls(calls: Any, mapping: RedactionMap) -> Any:
    if not isinstance(calls, list):
        return calls
    out = []
    for c in calls:
        fn = c.get("function") if isinstance(c, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
            c = {**c, "function": {**fn, "arguments": restore(fn["arguments"], mapping)}}
        out.append(c)
    return out


class RedactingBackend(Backend):
    """Wraps a non-local endpoint's backend; forwards ``name``, ``model`` and ``capabilities``."""

    def __init__(self, inner: Backend, policy: ResidencyPolicy, tier: str) -> None:
        self.inner = inner
        self.policy = policy
        self.tier = tier
        self.name = inner.name
        self.model = inner.model

    def __repr__(self) -> str:
        return f"RedactingBackend({self.inner!r})"

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def redaction(self, request: ChatRequest) -> tuple[tuple[str, int], ...] | None:
        """What this endpoint masks in ``request``: ``(entity type, distinct values)`` pairs, or None when it
        is sent as is (redaction off for the request's key, or nothing detected). Types and counts only.

        The same decision as :meth:`complete` / :meth:`stream` make (``ResidencyPolicy.outbound``); the
        engine asks once per logged request whose attempts reached a masking endpoint, so the log says
        which attempts left the host masked."""
        _, mapping = self.policy.outbound(request, self.tier)
        return tuple(sorted(mapping.entities().items())) if mapping is not None else None

    async def complete(self, request: ChatRequest) -> ChatResponse:
        sent, mapping = self.policy.outbound(request, self.tier)
        resp = await self.inner.complete(sent)
        if mapping is None:
            return resp
        msg = dict(resp.message)
        if isinstance(msg.get("content"), str):
            msg["content"] = restore(msg["content"], mapping)
        if "tool_calls" in msg:
            msg["tool_calls"] = _restore_calls(msg["tool_calls"], mapping)
        return replace(resp, message=msg)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        sent, mapping = self.policy.outbound(request, self.tier)
        if mapping is None:
            async for chunk in self.inner.stream(sent):
                yield chunk
            return
        text = StreamRestorer(mapping)
        args: dict[int, StreamRestorer] = {}  # tool call index -> its argument fragments
        async for chunk in self.inner.stream(sent):
            delta = dict(chunk.delta)
            if isinstance(delta.get("content"), str):
                delta["content"] = text.feed(delta["content"])
            if isinstance(delta.get("tool_calls"), list):
                delta["tool_calls"] = [self._call_delta(c, mapping, args) for c in delta["tool_calls"]]
            if chunk.finish_reason is not None:  # nothing follows: release what was held back
                tail = text.flush()
                if tail:
                    delta["content"] = (delta.get("content") or "") + tail
                held = [{"index": i, "function": {"arguments": rest}} for i, r in sorted(args.items())
                        if (rest := r.flush())]
                if held:
                    delta["tool_calls"] = [*(delta.get("tool_calls") or []), *held]
            yield replace(chunk, delta=delta)

    @staticmethod
    def _call_delta(c: Any, mapping: RedactionMap, args: dict[int, StreamRestorer]) -> Any:
        fn = c.get("function") if isinstance(c, dict) else None
        if not (isinstance(fn, dict) and isinstance(fn.get("arguments"), str)):
            return c
        r = args.setdefault(int(c.get("index", 0)), StreamRestorer(mapping))
        return {**c, "function": {**fn, "arguments": r.feed(fn["arguments"])}}

    async def health(self) -> dict[str, Any]:
        return await self.inner.health()

    async def aclose(self) -> None:
        await self.inner.aclose()
