"""``POST /v1/chat/completions``: the OpenAI Chat Completions wire format."""

from __future__ import annotations

from typing import Any

import orjson

from smallfirst.core.errors import SmallfirstError
from smallfirst.core.types import ChatRequest, ChatResponse, Decision
from smallfirst.request import RequestContext
from smallfirst.stream import Stream
from smallfirst.wire import Headers, StreamFrames
from smallfirst.wire.openai_parse import to_request
from smallfirst.wire.openai_render import ChunkRenderer, completion

PATH = "/v1/chat/completions"


class OpenAIChat:
    def request(self, body: dict[str, Any], headers: Headers, api_key_id: str | None) -> ChatRequest:
        return to_request(body, headers=headers, api_key_id=api_key_id)

    def answer(self, resp: ChatResponse, ctx: RequestContext, decision: Decision) -> tuple[bytes, Headers]:
        return completion(resp, ctx.request_id, int(ctx.ts), resp.model or decision.model), []

    def frames(self, request: ChatRequest, ctx: RequestContext, stream: Stream) -> StreamFrames:
        return ChunkRenderer(ctx.request_id, int(ctx.ts), stream.model, request.include_usage)

    def error(self, err: SmallfirstError, request_id: str) -> tuple[bytes, Headers]:
        return orjson.dumps(err.to_openai()), []
