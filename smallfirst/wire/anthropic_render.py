"""Anthropic Messages API response shapes: the ``message`` JSON, the SSE event sequence, errors.

Streams follow the Messages API exactly: ``message_start``, then per content block
``content_block_start`` / ``content_block_delta`` (``text_delta`` or ``input_json_delta``) /
``content_block_stop``, then ``message_delta`` (stop reason, usage) and ``message_stop``; a failure
after the first byte is an ``event: error``.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from smallfirst.backends import anthropic_map
from smallfirst.backends.errors import ANTHROPIC_ERROR_STATUS
from smallfirst.core.errors import ResidencyUnavailableError, SmallfirstError, UpstreamError, UpstreamUnavailableError
from smallfirst.core.types import ChatChunk, ChatResponse, Usage

# the inverse of the backend's stop-reason map (the first Anthropic reason listed for each OpenAI one wins)
STOP_REASONS: dict[str, str] = {oai: a for a, oai in reversed(anthropic_map.STOP_REASONS.items())}
STOP_REASONS["function_call"] = "tool_use"
# HTTP status → Anthropic error type (the inverse of the backend's map; the first type listed wins)
ERROR_TYPES: dict[int, str] = {s: t for t, s in reversed(ANTHROPIC_ERROR_STATUS.items())}


def message_id(request_id: str) -> str:
    return "msg_" + request_id.removeprefix("req-")


def stop_reason(finish: str | None) -> str:
    return STOP_REASONS.get(finish or "stop", "end_turn")


def usage(u: Usage) -> dict[str, Any]:
    """Anthropic's usage: ``input_tokens`` counts only what was neither read from nor written to the cache."""
    out: dict[str, Any] = {"input_tokens": u.uncached_prompt_tokens, "output_tokens": u.completion_tokens,
                           "cache_creation_input_tokens": u.cache_write_tokens,
                           "cache_read_input_tokens": u.cache_read_tokens}
    if u.cache_write_tokens:
        out["cache_creation"] = {"ephemeral_5m_input_tokens": u.cache_write_tokens - u.cache_write_1h_tokens,
                                 "ephemeral_1h_input_tokens": u.cache_write_1h_tokens}
    return out


def _delta_usage(u: Usage) -> dict[str, Any]:
    """``message_delta``'s cumulative usage (the cache counts only when there are some)."""
    out: dict[str, Any] = {"input_tokens": u.uncached_prompt_tokens, "output_tokens": u.completion_tokens}
    if u.cache_read_tokens or u.cache_write_tokens:
        out.update(cache_creation_input_tokens=u.cache_write_tokens, cache_read_input_tokens=u.cache_read_tokens)
    return out


def _tool_input(call: dict[str, Any], model: str) -> dict[str, Any]:
    raw = (call.get("function") or {}).get("arguments")
    if isinstance(raw, dict):
        return raw
    try:
        value = orjson.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise UpstreamError(f"model {model} returned tool call arguments that are not a JSON object: "
                            f"{str(raw)[:80]!r}", hint="retry, or route tool use to a stronger tier")
    return value


def _tool_id(call: dict[str, Any]) -> str:
    return str(call.get("id") or "toolu_" + os.urandom(12).hex())


def message(resp: ChatResponse, request_id: str, model: str) -> bytes:
    """The Messages API ``message`` object for a completed answer."""
    content: list[dict[str, Any]] = []
    if resp.content:
        content.append({"type": "text", "text": resp.content})
    for call in resp.message.get("tool_calls") or []:
        content.append({"type": "tool_use", "id": _tool_id(call), "name": (call.get("function") or {}).get("name", ""),
                        "input": _tool_input(call, model)})
    return orjson.dumps({"id": message_id(request_id), "type": "message", "role": "assistant", "content": content,
                         "model": model, "stop_reason": stop_reason(resp.finish_reason), "stop_sequence": None,
                         "usage": usage(resp.usage)})


def error_type(err: SmallfirstError) -> str:
    """Anthropic's error type for the error's status (403 ``permission_error``, 400 ``invalid_request_error``
    …); a down upstream, or a fail-closed refusal after the allowed tiers failed, is ``overloaded_error``."""
    if isinstance(err, UpstreamUnavailableError | ResidencyUnavailableError):
        return "overloaded_error"
    return ERROR_TYPES.get(err.status) or ("invalid_request_error" if err.status < 500 else "api_error")


def error_body(err: SmallfirstError, request_id: str = "") -> dict[str, Any]:
    """``{"type": "error", "error": {"type", "message"}}`` (+ ``request_id`` when known)."""
    text = err.message if not err.hint else f"{err.message} (hint: {err.hint})"
    body: dict[str, Any] = {"type": "error", "error": {"type": error_type(err), "message": text}}
    if request_id:
        body["request_id"] = request_id
    return body


def _event(name: bytes, data: dict[str, Any]) -> bytes:
    return b"event: " + name + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class MessageFrames:
    """Renders one stream's ChatChunks as Messages API SSE events (the gateway's StreamFrames)."""

    def __init__(self, request_id: str, model: str, input_tokens_estimate: int) -> None:
        self._start = _event(b"message_start", {"type": "message_start", "message": {
            "id": message_id(request_id), "type": "message", "role": "assistant", "content": [], "model": model,
            "stop_reason": None, "stop_sequence": None, "usage": usage(Usage(input_tokens_estimate, 0))}})
        self._started = False
        self._index = -1  # the last block opened
        self._open: str | None = None  # its type while it is open
        self._tools: dict[int, int] = {}  # OpenAI tool call index → content block index
        self._finish: str | None = None

    def _begin(self, out: list[bytes], block: dict[str, Any]) -> None:
        self._close(out)
        self._index += 1
        self._open = block["type"]
        out.append(_event(b"content_block_start", {"type": "content_block_start", "index": self._index,
                                                   "content_block": block}))

    def _close(self, out: list[bytes]) -> None:
        if self._open is not None:
            out.append(_event(b"content_block_stop", {"type": "content_block_stop", "index": self._index}))
            self._open = None

    def _delta(self, out: list[bytes], index: int, delta: dict[str, Any]) -> None:
        out.append(_event(b"content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))

    def chunk(self, c: ChatChunk) -> bytes:
        out: list[bytes] = []
        if not self._started:
            self._started = True
            out.append(self._start)
        text = c.delta.get("content")
        if isinstance(text, str) and text:
            if self._open != "text":
                self._begin(out, {"type": "text", "text": ""})
            self._delta(out, self._index, {"type": "text_delta", "text": text})
        for call in c.delta.get("tool_calls") or []:
            ti = int(call.get("index", 0))
            fn = call.get("function") or {}
            if ti not in self._tools:
                self._begin(out, {"type": "tool_use", "id": _tool_id(call), "name": fn.get("name") or "",
                                  "input": {}})
                self._tools[ti] = self._index
            args = fn.get("arguments")
            if isinstance(args, str) and args:
                self._delta(out, self._tools[ti], {"type": "input_json_delta", "partial_json": args})
        if c.finish_reason is not None:
            self._finish = c.finish_reason
        return b"".join(out)

    def tail(self, u: Usage) -> bytes:
        out = [] if self._started else [self._start]
        self._started = True
        self._close(out)
        out.append(_event(b"message_delta", {"type": "message_delta", "delta": {
            "stop_reason": stop_reason(self._finish), "stop_sequence": None},
            "usage": _delta_usage(u)}))
        out.append(_event(b"message_stop", {"type": "message_stop"}))
        return b"".join(out)

    def error(self, err: SmallfirstError) -> bytes:
        return _event(b"error", error_body(err))
