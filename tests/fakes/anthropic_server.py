"""A fake Anthropic Messages API; bodies and events are built from the official ``anthropic`` SDK types.

Routes: ``GET /v1/models``, ``POST /v1/messages`` (JSON, or SSE ``event:``/``data:`` pairs:
message_start, ping, content_block_start/delta/stop, message_delta, message_stop). It checks
what the real API checks and a translator can get wrong: the ``anthropic-version`` header,
``x-api-key`` or a bearer token (when ``api_key`` is set), ``max_tokens`` present, no ``system`` role inside
``messages``, every ``tool_result`` answering a ``tool_use`` of the previous assistant turn.
Tool calls are answered when ``tool_choice`` forces one (or tools are offered with auto/any).
Prompt caching as the API does it: the prefix up to the last ``cache_control`` breakpoint (tools, then
system, then messages; a top-level ``cache_control`` marks the last block) is written to the cache the
first time (``cache_creation_input_tokens``, split by TTL) and read after (``cache_read_input_tokens``);
more than 4 breakpoints, or one inside ``tool_result.content``, is the API's 400.
See :mod:`tests.fakes.base` for faults.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from anthropic.types import (
    CacheCreation,
    InputJSONDelta,
    Message,
    MessageDeltaUsage,
    ModelInfo,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    TextBlock,
    TextDelta,
    ToolUseBlock,
    Usage,
)
from anthropic.types.raw_message_delta_event import Delta
from anthropic.types.shared import ErrorResponse
from pydantic import BaseModel

from tests.fakes.base import Answer, FakeServer, Fault, estimate_tokens, text_of, write_stream

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 429: "rate_limit_error", 500: "api_error", 504: "gateway_timeout_error",
               529: "overloaded_error"}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    etype = ERROR_TYPES.get(status, "api_error")
    body = ErrorResponse(type="error", error={"type": etype, "message": message},  # type: ignore[arg-type]
                         request_id="req_fake").model_dump(mode="json", exclude_unset=True)
    return web.json_response(body, status=status, headers=headers)


def _event(model: BaseModel | dict[str, Any]) -> bytes:
    data = model if isinstance(model, dict) else model.model_dump(mode="json", exclude_unset=True)
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every cacheable block in prompt order: tools, system, then each message's content blocks."""
    system = body.get("system")
    out = [*(body.get("tools") or []), *(system if isinstance(system, list) else [])]
    for m in body["messages"]:
        out += m["content"] if isinstance(m.get("content"), list) else [{"type": "text", "text": m.get("content")}]
    return out


class FakeAnthropic(FakeServer):
    default_model = "claude-fake-1"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.cached: set[str] = set()  # prompt-cache entries: hashes of cached prefixes

    def _cache(self, body: dict[str, Any], prompt_tokens: int) -> dict[str, Any]:
        """Usage fields for the prompt-cache part of ``prompt_tokens`` (input_tokens is what is left)."""
        blocks = _blocks(body)
        marks = [i for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("cache_control")]
        if isinstance(body.get("cache_control"), dict) and blocks:
            marks.append(len(blocks) - 1)
            blocks[-1] = {**blocks[-1], "cache_control": body["cache_control"]}
        if not marks:
            return {"input_tokens": prompt_tokens}
        prefix = blocks[:marks[-1] + 1]
        key = hashlib.sha256(json.dumps(prefix, sort_keys=True).encode()).hexdigest()
        cached = min(prompt_tokens, estimate_tokens([text_of([b]) for b in prefix if text_of([b])]))
        rest = {"input_tokens": prompt_tokens - cached}
        if key in self.cached:
            return {**rest, "cache_read_input_tokens": cached, "cache_creation_input_tokens": 0}
        self.cached.add(key)
        long = cached if prefix[-1]["cache_control"].get("ttl") == "1h" else 0
        split = CacheCreation(ephemeral_1h_input_tokens=long, ephemeral_5m_input_tokens=cached - long)
        return {**rest, "cache_read_input_tokens": 0, "cache_creation_input_tokens": cached, "cache_creation": split}

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v1/models", self.models), web.post("/v1/messages", self.messages)]

    def _denied(self, request: web.Request) -> web.Response | None:
        if "anthropic-version" not in request.headers:
            return error_response(400, "anthropic-version: header is required")
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")  # newer SDKs send this
        if self.api_key is not None and self.api_key not in (request.headers.get("x-api-key"), bearer):
            return error_response(401, "invalid x-api-key")
        return None

    async def models(self, request: web.Request) -> web.Response:
        await self.record(request)
        if (denied := self._denied(request)) is not None:
            return denied
        info = ModelInfo(id=self.model, type="model", display_name="Claude Fake", lifecycle="active",
                         created_at=datetime(2025, 1, 1, tzinfo=UTC),
                         max_input_tokens=self.context_window or 200_000, max_tokens=64_000)
        data = [info.model_dump(mode="json", exclude_unset=True)]
        return web.json_response({"data": data, "has_more": False, "first_id": self.model, "last_id": self.model})

    @staticmethod
    def _invalid(body: Any) -> str | None:
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return "messages: Field required"
        if not isinstance(body.get("max_tokens"), int):
            return "max_tokens: Field required"
        marks = sum(1 for b in _blocks(body) if isinstance(b, dict) and b.get("cache_control"))
        if marks > 4:
            return f"A maximum of 4 blocks with cache_control may be provided. Found {marks}."
        previous_tool_uses: set[str] = set()
        for i, m in enumerate(body["messages"]):
            if m.get("role") not in ("user", "assistant"):
                return (f'messages.{i}.role: Unexpected role "{m.get("role")}". The Messages API accepts a '
                        "top-level `system` parameter, not \"system\" as an input message role.")
            blocks = m["content"] if isinstance(m.get("content"), list) else []
            for b in blocks:
                inner = b.get("content") if b.get("type") == "tool_result" else None
                if isinstance(inner, list) and any(isinstance(x, dict) and "cache_control" in x for x in inner):
                    return (f"messages.{i}.content.0.tool_result.content.0.cache_control: cache_control may not be "
                            "specified within `tool_result.content`. Instead, place it directly on `tool_result`")
                if b.get("type") == "tool_result" and b.get("tool_use_id") not in previous_tool_uses:
                    return (f"messages.{i}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
                            f"{b.get('tool_use_id')}. Each `tool_result` block must have a corresponding "
                            "`tool_use` block in the previous message.")
            previous_tool_uses = {b["id"] for b in blocks if b.get("type") == "tool_use"}
        return None

    async def messages(self, request: web.Request) -> web.StreamResponse:
        rec = await self.record(request)
        if (denied := self._denied(request)) is not None:
            return denied
        body = rec.body
        if (problem := self._invalid(body)) is not None:
            return error_response(400, problem)
        fault = self.take_fault()
        if await self.before_first_byte(request, fault):
            return web.Response()
        if fault is not None and fault.status is not None:
            headers = {"retry-after": fault.retry_after} if fault.retry_after else None
            return error_response(fault.status, fault.message or f"fake failure {fault.status}", headers)
        texts = [text_of(body.get("system", ""))] + [text_of(m.get("content")) for m in body["messages"]]
        prompt_tokens = estimate_tokens([t for t in texts if t])
        if self.context_window is not None and prompt_tokens > self.context_window:
            return error_response(400, f"prompt is too long: {prompt_tokens} tokens > {self.context_window} maximum")
        last_user = next((text_of(m.get("content")) for m in reversed(body["messages"]) if m["role"] == "user"), "")
        answer = self._answer(body, last_user)
        out_tokens = max(1, len(answer.words))
        stop: Any = "tool_use" if answer.tool_calls else ("max_tokens" if answer.truncated else "end_turn")
        if body.get("stream"):
            error = _event(ErrorResponse(type="error", error={  # type: ignore[arg-type]
                "type": "overloaded_error", "message": (fault.message if fault else None) or "Overloaded"}))
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
            return await write_stream(request, response, self._events(answer, self._cache(body, prompt_tokens),
                                                                      out_tokens, stop), fault, error)
        content: list[Any] = [ToolUseBlock(type="tool_use", id=f"toolu_{i:02d}", name=n, input=a)
                              for i, (n, a) in enumerate(answer.tool_calls)] or [TextBlock(type="text",
                                                                                           text=answer.text)]
        msg = Message(id="msg_fake01", type="message", role="assistant", model=self.model, content=content,
                      stop_reason=stop, stop_sequence=None,
                      usage=Usage(**self._cache(body, prompt_tokens), output_tokens=out_tokens))
        return web.json_response(msg.model_dump(mode="json", exclude_unset=True))

    def _answer(self, body: dict[str, Any], last_user: str) -> Answer:
        tools = {t["name"]: t.get("input_schema", {}) for t in body.get("tools") or []}
        choice = body.get("tool_choice") or {"type": "auto"}
        if tools and choice.get("type") != "none":
            name = choice["name"] if choice.get("type") == "tool" else next(iter(tools))
            return self.answer(last_user, None, [(name, tools[name])])
        return self.answer(last_user, body["max_tokens"])

    def _events(self, answer: Answer, prompt: dict[str, Any], out_tokens: int, stop: Any) -> list[bytes]:
        start = Message(id="msg_fake01", type="message", role="assistant", model=self.model, content=[],
                        stop_reason=None, stop_sequence=None, usage=Usage(**prompt, output_tokens=1))
        out = [_event(RawMessageStartEvent(type="message_start", message=start)), _event({"type": "ping"})]
        if answer.tool_calls:
            for i, (name, args) in enumerate(answer.tool_calls):
                out.append(_event(RawContentBlockStartEvent(type="content_block_start", index=i, content_block=
                                  ToolUseBlock(type="tool_use", id=f"toolu_{i:02d}", name=name, input={}))))
                text = json.dumps(args)
                out += [_event(RawContentBlockDeltaEvent(type="content_block_delta", index=i, delta=InputJSONDelta(
                    type="input_json_delta", partial_json=text[j:j + 7]))) for j in range(0, len(text), 7)]
                out.append(_event(RawContentBlockStopEvent(type="content_block_stop", index=i)))
        else:
            out.append(_event(RawContentBlockStartEvent(type="content_block_start", index=0,
                                                        content_block=TextBlock(type="text", text=""))))
            out += [_event(RawContentBlockDeltaEvent(type="content_block_delta", index=0,
                                                     delta=TextDelta(type="text_delta", text=w)))
                    for w in answer.words]
            out.append(_event(RawContentBlockStopEvent(type="content_block_stop", index=0)))
        out.append(_event(RawMessageDeltaEvent(type="message_delta", delta=Delta(stop_reason=stop, stop_sequence=None),
                                               usage=MessageDeltaUsage(output_tokens=out_tokens))))
        out.append(_event(RawMessageStopEvent(type="message_stop")))
        return out


__all__ = ["FakeAnthropic", "Fault"]
