"""A wire format whose requests have config's ``[aliases]`` resolved (smallfirst.config.aliases)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from smallfirst.config.aliases import Resolve, is_identity
from smallfirst.core.errors import SmallfirstError
from smallfirst.core.types import ChatRequest, ChatResponse, Decision
from smallfirst.request import RequestContext
from smallfirst.stream import Stream
from smallfirst.wire import Headers, StreamFrames, WireFormat


class Aliased:
    """``inner`` with the requested model mapped to its route; everything else is ``inner``'s. The answer's
    ``model`` is the model that answered; the log keeps the name the client sent (``requested_model``)."""

    def __init__(self, inner: WireFormat, resolve: Resolve) -> None:
        self.inner = inner
        self.resolve = resolve

    def request(self, body: dict[str, Any], headers: Headers, api_key_id: str | None) -> ChatRequest:
        request = self.inner.request(body, headers, api_key_id)
        target = self.resolve(request.model)
        return request if target == request.model else replace(request, model=target)

    def answer(self, resp: ChatResponse, ctx: RequestContext, decision: Decision) -> tuple[bytes, Headers]:
        return self.inner.answer(resp, ctx, decision)

    def frames(self, request: ChatRequest, ctx: RequestContext, stream: Stream) -> StreamFrames:
        return self.inner.frames(request, ctx, stream)

    def error(self, err: SmallfirstError, request_id: str) -> tuple[bytes, Headers]:
        return self.inner.error(err, request_id)


def with_aliases(inner: WireFormat, resolve: Resolve) -> WireFormat:
    """``inner`` wrapped when there are aliases to resolve; ``inner`` itself when there are none (one layer
    fewer on every request)."""
    return inner if is_identity(resolve) else Aliased(inner, resolve)
