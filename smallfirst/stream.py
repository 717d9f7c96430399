"""A committed upstream stream: chunks pass through; usage, cost and the decision settle at the end."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from smallfirst.core.errors import StreamInterruptedError, UpstreamError
from smallfirst.core.types import Attempt, ChatChunk, ChatResponse, Decision, Usage
from smallfirst.request import RequestContext, Step, decision


class Stream:
    """A committed upstream stream. Iterate it for chunks; usage and cost are settled at the end."""

    def __init__(self, ctx: RequestContext, step: Step, first: ChatChunk, rest: AsyncIterator[ChatChunk],
                 t_start: float, decided: Decision | None = None) -> None:
        self._decision = decided  # set when the answer was already checked and recorded
        self.ctx = ctx
        self.step = step
        self._first: ChatChunk | None = first
        self._rest = rest
        self._t = t_start
        self.usage: Usage | None = None
        self.usage_estimated = False  # True when the upstream reported no usage and it was estimated
        self.finish_reason: str | None = None
        self.text_parts: list[str] = []

    @property
    def tier(self) -> str:
        return self.step.tier.name

    @property
    def model(self) -> str:
        return self.step.endpoint.backend.model

    def _seen(self, chunk: ChatChunk) -> None:
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason
        c = chunk.delta.get("content")
        if isinstance(c, str):
            self.text_parts.append(c)

    async def __aiter__(self) -> AsyncIterator[ChatChunk]:
        if self._first is not None:
            first, self._first = self._first, None
            self._seen(first)
            yield first
        try:
            async for chunk in self._rest:
                self._seen(chunk)
                yield chunk
        except UpstreamError as err:
            raise StreamInterruptedError(f"upstream {self.step.endpoint.backend.name} failed mid-stream: "
                                         f"{err.message}", hint=err.hint) from err

    def final_usage(self) -> Usage:
        """The upstream's usage; estimated (≈4 characters per token) when it reported none, as some servers
        (llama-cpp-python) ignore ``stream_options.include_usage``."""
        if self.usage is None:
            sig = self.ctx.signals
            self.usage = Usage(sig.prompt_tokens_est if sig else 0, (sum(map(len, self.text_parts)) + 3) // 4)
            self.usage_estimated = True
        return self.usage

    def settle(self, outcome: str = "ok") -> Decision:
        """Record the committed attempt (with usage and cost) and return the decision."""
        if self._decision is not None:
            return self._decision
        usage = self.final_usage()
        ep = self.step.endpoint
        self.ctx.attempts.append(Attempt(self.tier, ep.backend.model, ep.backend.name, outcome,
                                         (time.perf_counter() - self._t) * 1000.0,
                                         ep.cost(usage), usage, ep.location))
        return decision(self.ctx, self.step)

    def info(self) -> dict[str, Any]:
        return {"tier": self.tier, "model": self.model, "reason": self.ctx.reason,
                "escalations": list(self.ctx.escalations)}


def replay(resp: ChatResponse) -> list[ChatChunk]:
    """A complete answer as stream chunks: content, tool calls, then finish reason with usage."""
    chunks = [ChatChunk(delta={"content": resp.content}, logprobs=resp.logprobs)] if resp.content else []
    calls = resp.message.get("tool_calls")
    if calls:
        chunks.append(ChatChunk(delta={"tool_calls": [{"index": k, **c} for k, c in enumerate(calls)]}))
    chunks.append(ChatChunk(delta={}, finish_reason=resp.finish_reason, usage=resp.usage))
    return chunks


async def aiter_chunks(items: list[ChatChunk]) -> AsyncIterator[ChatChunk]:
    for item in items:
        yield item
