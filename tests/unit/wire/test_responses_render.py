"""Responses API rendering: objects and every stream event validate against the ``openai`` SDK's own types."""

from __future__ import annotations

from typing import Any

import orjson
import pydantic
from openai.types.responses import Response, ResponseStreamEvent

from smallfirst.core.errors import StreamInterruptedError
from smallfirst.core.types import ChatChunk, ChatResponse, Usage
from smallfirst.wire.openai_responses import assistant_message
from smallfirst.wire.responses_render import ResponseFrames, output_items, response

EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
ECHO: dict[str, Any] = {"instructions": None, "metadata": {}, "parallel_tool_calls": True, "temperature": None,
                        "tool_choice": "auto", "tools": [], "top_p": None, "text": {"format": {"type": "text"}}}


def events(raw: bytes) -> list[dict[str, Any]]:
    """Parse SSE frames; each must have an ``event:`` line naming its ``type``."""
    out = []
    for frame in raw.decode().split("\n\n"):
        if not frame:
            continue
        head, data = frame.split("\n")
        obj = orjson.loads(data.removeprefix("data: "))
        assert head == "event: " + obj["type"]
        EVENTS.validate_python(obj)  # every field the SDK declares, with the right types
        out.append(obj)
    return out


def frames(*chunks: ChatChunk) -> tuple[list[dict[str, Any]], list[Any]]:
    kept: list[Any] = []
    f = ResponseFrames("resp_1", 1_700_000_000, "m", ECHO, kept.append)
    return events(b"".join(f.chunk(c) for c in chunks) + f.tail(Usage(5, 3))), kept


def test_completed_answer_object_validates() -> None:
    resp = ChatResponse("m", {"role": "assistant", "content": "hi", "tool_calls": [
        {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]}, "tool_calls",
        Usage(7, 2))
    items = output_items(resp)
    obj = response("resp_1", 1, "m", ECHO, items, "completed", resp.usage)
    r = Response.model_validate(obj)
    assert r.output_text == "hi" and r.status == "completed" and r.incomplete_details is None
    assert r.usage is not None and (r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens) == (7, 2, 9)
    call = r.output[1]
    assert call.type == "function_call" and call.call_id == "call_9" and call.arguments == '{"a":1}'
    msg = r.output[0]
    assert msg.type == "message" and msg.id.startswith("msg_")
    assert call.id is not None and call.id.startswith("fc_")
    assert assistant_message(items) == {"role": "assistant", "content": "hi", "tool_calls": [
        {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]}


def test_cut_answer_is_incomplete() -> None:
    resp = ChatResponse("m", {"role": "assistant", "content": "one two"}, "length", Usage(3, 2))
    r = Response.model_validate(response("resp_1", 1, "m", ECHO, output_items(resp), "incomplete", resp.usage,
                                         "length"))
    assert r.status == "incomplete" and r.incomplete_details is not None
    msg = r.output[0]
    assert r.incomplete_details.reason == "max_output_tokens" and msg.type == "message"
    assert msg.status == "incomplete"


def test_text_stream_event_sequence() -> None:
    evs, kept = frames(ChatChunk({"role": "assistant", "content": ""}), ChatChunk({"content": "Hel"}),
                       ChatChunk({"content": "lo"}), ChatChunk({}, finish_reason="stop"))
    assert [e["type"] for e in evs] == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.completed"]
    assert [e["sequence_number"] for e in evs] == list(range(len(evs)))
    assert evs[0]["response"]["status"] == "in_progress" and evs[0]["response"]["output"] == []
    assert evs[2]["item"]["content"] == [] and evs[2]["item"]["status"] == "in_progress"
    assert evs[6]["text"] == "Hello" and evs[8]["item"]["status"] == "completed"
    done = Response.model_validate(evs[-1]["response"])
    assert done.output_text == "Hello" and done.usage is not None and done.usage.total_tokens == 8
    assert done.output[0].id == evs[2]["item"]["id"]  # one id for the item throughout
    assert kept == [evs[-1]["response"]["output"]]


def test_tool_call_stream_event_sequence() -> None:
    evs, kept = frames(
        ChatChunk({"content": "Checking."}),
        ChatChunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                   "function": {"name": "get_weather", "arguments": ""}}]}),
        ChatChunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        ChatChunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
        ChatChunk({"tool_calls": [{"index": 1, "id": "call_2", "type": "function",
                                   "function": {"name": "get_time", "arguments": "{}"}}]}),
        ChatChunk({}, finish_reason="tool_calls"))
    kinds = [e["type"] for e in evs]
    assert kinds[2:9] == ["response.output_item.added", "response.content_part.added", "response.output_text.delta",
                          "response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.output_item.added"]
    assert kinds[9:] == ["response.function_call_arguments.delta", "response.function_call_arguments.delta",
                         "response.output_item.added", "response.function_call_arguments.delta",
                         "response.function_call_arguments.done", "response.output_item.done",
                         "response.function_call_arguments.done", "response.output_item.done", "response.completed"]
    assert evs[8]["item"]["arguments"] == "" and evs[8]["item"]["call_id"] == "call_1"
    assert evs[13]["arguments"] == '{"city":"Oslo"}' and evs[13]["output_index"] == 1
    done = Response.model_validate(evs[-1]["response"])
    assert [(o.type, getattr(o, "name", None)) for o in done.output] == [
        ("message", None), ("function_call", "get_weather"), ("function_call", "get_time")]
    assert assistant_message(kept[0])["tool_calls"][1]["function"] == {"name": "get_time", "arguments": "{}"}


def test_cut_stream_ends_incomplete() -> None:
    evs, _ = frames(ChatChunk({"content": "one two"}), ChatChunk({}, finish_reason="length"))
    assert evs[-1]["type"] == "response.incomplete"
    assert evs[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert evs[-2]["item"]["status"] == "incomplete"


def test_failure_mid_stream_ends_with_error_and_failed() -> None:
    f = ResponseFrames("resp_1", 1, "m", ECHO, None)
    raw = f.chunk(ChatChunk({"content": "par"})) + f.error(StreamInterruptedError("upstream x failed mid-stream"))
    evs = events(raw)
    assert [e["type"] for e in evs][-2:] == ["error", "response.failed"]
    assert evs[-2]["code"] == StreamInterruptedError.code and "mid-stream" in evs[-2]["message"]
    failed = Response.model_validate(evs[-1]["response"])
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "server_error"
    assert failed.output[0].type == "message"  # what had been sent is still there


def test_empty_stream_still_completes() -> None:
    evs, kept = frames(ChatChunk({}, finish_reason="stop"))
    assert [e["type"] for e in evs] == ["response.created", "response.in_progress", "response.completed"]
    assert kept == [[]]
