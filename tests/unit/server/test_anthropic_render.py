"""Anthropic response shapes: message JSON, stop reasons, error types, the SSE event sequence."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from smallfirst.core.errors import (
    AuthenticationError,
    BadRequestError,
    MethodNotAllowedError,
    ModelNotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PolicyBlockedError,
    RateLimitError,
    ResidencyUnavailableError,
    SmallfirstError,
    StreamInterruptedError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from smallfirst.core.types import ChatChunk, ChatResponse, Usage
from smallfirst.wire import anthropic_render as render


def events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in raw.decode().split("\n\n"):
        if frame:
            name, data = frame.split("\n")
            assert name.startswith("event: ") and data.startswith("data: ")
            out.append((name[7:], orjson.loads(data[6:])))
    return out


def test_stop_reasons_invert_the_backend_map() -> None:
    assert render.STOP_REASONS == {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                                   "content_filter": "refusal", "function_call": "tool_use"}
    assert render.stop_reason(None) == "end_turn" and render.stop_reason("error") == "end_turn"


def test_message_with_text_and_tool_calls() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    resp = ChatResponse(model="m", message={"role": "assistant", "content": "Sure.", "tool_calls": [call]},
                        finish_reason="tool_calls", usage=Usage(7, 2))
    body = orjson.loads(render.message(resp, "req-abc", "m"))
    assert body == {"id": "msg_abc", "type": "message", "role": "assistant", "model": "m",
                    "content": [{"type": "text", "text": "Sure."},
                                {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}}],
                    "stop_reason": "tool_use", "stop_sequence": None,
                    "usage": {"input_tokens": 7, "output_tokens": 2, "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 0}}


def test_empty_answer_has_no_blocks_and_missing_tool_ids_are_made() -> None:
    empty = ChatResponse(model="m", message={"role": "assistant", "content": ""}, finish_reason="length",
                         usage=Usage())
    assert orjson.loads(render.message(empty, "req-1", "m"))["content"] == []
    call = {"type": "function", "function": {"name": "f", "arguments": ""}}
    resp = ChatResponse(model="m", message={"role": "assistant", "content": None, "tool_calls": [call]},
                        finish_reason="tool_calls", usage=Usage())
    (block,) = orjson.loads(render.message(resp, "req-1", "m"))["content"]
    assert block["id"].startswith("toolu_") and block["input"] == {}


@pytest.mark.parametrize("arguments", ['{"a": ', "[1, 2]"])
def test_tool_arguments_that_are_not_an_object_are_an_upstream_error(arguments: str) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
    resp = ChatResponse(model="m", message={"role": "assistant", "content": None, "tool_calls": [call]},
                        finish_reason="tool_calls", usage=Usage())
    with pytest.raises(UpstreamError, match="not a JSON object"):
        render.message(resp, "req-1", "tiny")


@pytest.mark.parametrize(
    ("err", "etype"),
    [
        (BadRequestError("x"), "invalid_request_error"),
        (PayloadTooLargeError("x"), "request_too_large"),
        (MethodNotAllowedError("x"), "invalid_request_error"),
        (AuthenticationError("x"), "authentication_error"),
        (PermissionDeniedError("x"), "permission_error"),
        (ModelNotFoundError("x"), "not_found_error"),
        (RateLimitError("x"), "rate_limit_error"),
        (UpstreamError("x"), "api_error"),
        (StreamInterruptedError("x"), "api_error"),
        (UpstreamTimeoutError("x"), "timeout_error"),
        (UpstreamUnavailableError("x"), "overloaded_error"),
        (PolicyBlockedError("x"), "permission_error"),
        (ResidencyUnavailableError("x"), "overloaded_error"),
    ],
)
def test_error_types(err: SmallfirstError, etype: str) -> None:
    assert render.error_body(err) == {"type": "error", "error": {"type": etype, "message": "x"}}


def test_error_body_carries_hint_and_request_id() -> None:
    body = render.error_body(BadRequestError("bad", hint="fix it"), "req-9")
    assert body == {"type": "error", "error": {"type": "invalid_request_error", "message": "bad (hint: fix it)"},
                    "request_id": "req-9"}


def test_frames_text_then_tool_calls_in_pieces() -> None:
    f = render.MessageFrames("req-7", "m", 11)
    raw = b"".join([
        f.chunk(ChatChunk(delta={"role": "assistant", "content": ""})),
        f.chunk(ChatChunk(delta={"content": "Let me "})),
        f.chunk(ChatChunk(delta={"content": "check."})),
        f.chunk(ChatChunk(delta={"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                                 "function": {"name": "f", "arguments": ""}}]})),
        f.chunk(ChatChunk(delta={"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]})),
        f.chunk(ChatChunk(delta={"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]})),
        f.chunk(ChatChunk(delta={"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                                 "function": {"name": "g", "arguments": "{}"}}]})),
        f.chunk(ChatChunk(delta={}, finish_reason="tool_calls")),
        f.tail(Usage(12, 9)),
    ])
    ev = events(raw)
    assert [n for n, _ in ev] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    assert all(n == d["type"] for n, d in ev)
    start = ev[0][1]["message"]
    assert start["id"] == "msg_7" and start["content"] == [] and start["usage"]["input_tokens"] == 11
    assert ev[1][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert [d["delta"]["text"] for n, d in ev[2:4]] == ["Let me ", "check."]
    assert ev[5][1]["content_block"] == {"type": "tool_use", "id": "call_a", "name": "f", "input": {}}
    assert [(d["index"], d["delta"]) for _, d in ev[6:8]] == [
        (1, {"type": "input_json_delta", "partial_json": '{"a":'}),
        (1, {"type": "input_json_delta", "partial_json": " 1}"})]
    assert ev[9][1]["index"] == 2 and ev[11][1] == {"type": "content_block_stop", "index": 2}
    assert ev[12][1] == {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                         "usage": {"input_tokens": 12, "output_tokens": 9}}


def test_frames_empty_stream_and_error_event() -> None:
    f = render.MessageFrames("req-1", "m", 0)
    assert [n for n, _ in events(f.tail(Usage()))] == ["message_start", "message_delta", "message_stop"]
    ((name, data),) = events(f.error(StreamInterruptedError("cut")))
    assert name == "error" and data == {"type": "error", "error": {"type": "api_error", "message": "cut"}}
