"""``POST /v1/messages``: the Anthropic Messages API, for unmodified Anthropic clients.

Requests are validated and translated to the internal (OpenAI-shaped) request by
:mod:`.anthropic_parse`; answers, streams and errors are rendered in Anthropic's shapes by
:mod:`.anthropic_render`, with ``request-id`` as Anthropic sends it.
"""

from __future__ import annotations

from typing import Any

import orjson

from smallfirst.core.errors import SmallfirstError
from smallfirst.core.types import ChatRequest, ChatResponse, Decision
from smallfirst.request import RequestContext
from smallfirst.stream import Stream
from smallfirst.wire import Headers, StreamFrames
from smallfirst.wire import anthropic_render as render
from smallfirst.wire.anthropic_parse import to_openai
from smallfirst.wire.openai_parse import to_request

PATH = "/v1/messages"


class AnthropicMessages:
    def request(self, body: dict[str, Any], headers: Headers, api_key_id: str | None) -> ChatRequest:
        return to_request(to_openai(body), headers=headers, api_key_id=api_key_id)

    def answer(self, resp: ChatResponse, ctx: RequestContext, decision: Decision) -> tuple[bytes, Headers]:
        return render.message(resp, ctx.request_id, resp.model or decision.model), [
            (b"request-id", ctx.request_id.encode())]

    def frames(self, request: ChatRequest, ctx: RequestContext, stream: Stream) -> StreamFrames:
        sig = ctx.signals
        return render.MessageFrames(ctx.request_id, stream.model, sig.prompt_tokens_est if sig else 0)

    def error(self, err: SmallfirstError, request_id: str) -> tuple[bytes, Headers]:
        """The SDK maps the status to its exception type; ``x-should-retry`` / ``retry-after`` come from the
        handler as on the OpenAI route."""
        return orjson.dumps(render.error_body(err, request_id)), [(b"request-id", request_id.encode())] \
            if request_id else []
