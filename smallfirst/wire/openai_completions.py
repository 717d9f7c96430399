"""``POST /v1/completions``: OpenAI's legacy text completions, served through the chat template.

The request is checked by :mod:`.completions_parse` and becomes a chat request whose one user message is
the prompt; it is routed like any chat request. Answers come back as ``text_completion`` objects (JSON,
or SSE events of the same shape ending with ``data: [DONE]``), legacy ``logprobs`` (``tokens``,
``token_logprobs``, ``top_logprobs``, ``text_offset``) converted from the chat logprobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from smallfirst.core.errors import SmallfirstError
from smallfirst.core.types import ChatChunk, ChatRequest, ChatResponse, Decision, Usage
from smallfirst.request import RequestContext
from smallfirst.stream import Stream
from smallfirst.wire import Headers, StreamFrames
from smallfirst.wire.completions_parse import to_chat_body
from smallfirst.wire.openai_parse import to_request
from smallfirst.wire.openai_render import DONE, error_event, fingerprint

PATH = "/v1/completions"
FINISH = frozenset({"stop", "length", "content_filter"})


def _finish(reason: str | None) -> str | None:
    if reason is None:
        return None
    return reason if reason in FINISH else "stop"


def legacy_logprobs(lp: Mapping[str, Any] | None, offset: int) -> dict[str, Any] | None:
    """Chat logprobs (``{"content": [{token, logprob, top_logprobs}]}``) in the completions API's shape;
    ``text_offset`` counts characters from ``offset`` on."""
    content = lp.get("content") if isinstance(lp, Mapping) else None
    if not isinstance(content, list):
        return None
    tokens: list[str] = []
    values: list[float | None] = []
    tops: list[dict[str, Any]] = []
    offsets: list[int] = []
    for item in content:
        if not isinstance(item, Mapping):
            continue
        token = str(item.get("token", ""))
        tokens.append(token)
        values.append(item.get("logprob"))
        tops.append({str(t.get("token", "")): t.get("logprob") for t in item.get("top_logprobs") or []
                     if isinstance(t, Mapping)})
        offsets.append(offset)
        offset += len(token)
    return {"tokens": tokens, "token_logprobs": values, "top_logprobs": tops, "text_offset": offsets}


def _prompt_chars(request: ChatRequest) -> int:
    content = request.messages[0].get("content") if request.messages else ""
    return len(content) if isinstance(content, str) else 0


def completion(resp: ChatResponse, request: ChatRequest | None, request_id: str, created: int,
               model: str) -> bytes:
    offset = _prompt_chars(request) if request is not None else 0
    answers: list[tuple[Mapping[str, Any], Any, Any]] = [(resp.message, resp.finish_reason, resp.logprobs)]
    answers += [(c.get("message") or {}, c.get("finish_reason"), c.get("logprobs")) for c in resp.extra_choices]
    choices = [{"text": m.get("content") if isinstance(m.get("content"), str) else "", "index": i,
                "logprobs": legacy_logprobs(lp, offset), "finish_reason": _finish(f) or "stop"}
               for i, (m, f, lp) in enumerate(answers)]
    body = {"id": "cmpl-" + request_id[4:], "object": "text_completion", "created": created, "model": model,
            "choices": choices, "usage": resp.usage.to_openai(),
            "system_fingerprint": resp.system_fingerprint or fingerprint(model)}
    return orjson.dumps(body)


class CompletionFrames:
    """``text_completion`` SSE events for one stream."""

    def __init__(self, request: ChatRequest, request_id: str, created: int, model: str) -> None:
        self.include_usage = request.include_usage
        self._base = {"id": "cmpl-" + request_id[4:], "object": "text_completion", "created": created,
                      "model": model, "system_fingerprint": fingerprint(model)}
        self._offset = _prompt_chars(request)

    def _event(self, choices: list[dict[str, Any]], usage: Usage | None = None) -> bytes:
        obj: dict[str, Any] = {**self._base, "choices": choices}
        if self.include_usage:
            obj["usage"] = usage.to_openai() if usage is not None else None
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    def chunk(self, c: ChatChunk) -> bytes:
        text = c.delta.get("content")
        text = text if isinstance(text, str) else ""
        if not text and c.finish_reason is None:
            return b""  # a role-only or tool delta: no text to send
        lp = legacy_logprobs(c.logprobs, self._offset)
        self._offset += len(text)
        return self._event([{"text": text, "index": 0, "logprobs": lp, "finish_reason": _finish(c.finish_reason)}])

    def tail(self, usage: Usage) -> bytes:
        return (self._event([], usage) + DONE) if self.include_usage else DONE

    def error(self, err: SmallfirstError) -> bytes:
        return error_event(err)


class OpenAICompletions:
    def request(self, body: dict[str, Any], headers: Headers, api_key_id: str | None) -> ChatRequest:
        return to_request(to_chat_body(body), headers=headers, api_key_id=api_key_id)

    def answer(self, resp: ChatResponse, ctx: RequestContext, decision: Decision) -> tuple[bytes, Headers]:
        return completion(resp, ctx.request, ctx.request_id, int(ctx.ts), resp.model or decision.model), []

    def frames(self, request: ChatRequest, ctx: RequestContext, stream: Stream) -> StreamFrames:
        return CompletionFrames(request, ctx.request_id, int(ctx.ts), stream.model)

    def error(self, err: SmallfirstError, request_id: str) -> tuple[bytes, Headers]:
        return orjson.dumps(err.to_openai()), []
