"""OpenAI ⇄ Anthropic Messages translation (pure functions)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smallfirst.backends.anthropic_map import JSON_TOOL, StreamTranslator, from_anthropic, to_anthropic, to_messages
from smallfirst.core.errors import UpstreamBadRequestError
from smallfirst.core.types import ChatRequest, Usage


def req(messages: list[dict[str, Any]], **body: Any) -> ChatRequest:
    full = {"model": "m", "messages": messages, **body}
    return ChatRequest(model="m", messages=messages, body=full, max_tokens=body.get("max_tokens"),
                       temperature=body.get("temperature"), response_format=body.get("response_format"),
                       tools=body.get("tools"))


WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}}
TOOLS: list[dict[str, Any]] = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city", "parameters": WEATHER}}]


def test_system_and_developer_messages_become_system() -> None:
    system, turns = to_messages([{"role": "system", "content": "Be brief."}, {"role": "developer", "content": "JSON."},
                                 {"role": "user", "content": "hi"}])
    assert system == "Be brief.\n\nJSON."
    assert turns == [{"role": "user", "content": "hi"}]


def test_tool_round_trip_and_role_merging() -> None:
    msgs: list[dict[str, Any]] = [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "rainy"}]},
        {"role": "user", "content": "thanks"},
    ]
    _, turns = to_messages(msgs)
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}}]
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": "rainy"},
        {"type": "text", "text": "thanks"}]


def test_images_become_image_blocks() -> None:
    _, turns = to_messages([{"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]}])
    blocks = turns[0]["content"]
    assert blocks[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                     "data": "iVBORw0KGgo="}}
    assert blocks[2]["source"] == {"type": "url", "url": "https://example.com/cat.jpg"}


def test_bad_tool_arguments_are_a_bad_request() -> None:
    with pytest.raises(UpstreamBadRequestError):
        to_messages([{"role": "assistant",
                      "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}]}])


def test_request_options() -> None:
    body, mode = to_anthropic(req([{"role": "user", "content": "x"}], temperature=1.7, top_p=0.5, stop="END",
                                  user="u-1", tools=TOOLS, tool_choice="required", parallel_tool_calls=False),
                              "claude-x", stream=True, default_max_tokens=1234)
    assert mode is None
    assert body["model"] == "claude-x" and body["stream"] is True
    assert body["max_tokens"] == 1234  # required by the Messages API; OpenAI clients may omit it
    assert body["temperature"] == 1.0  # clamped to Anthropic's 0..1
    assert body["top_p"] == 0.5 and body["stop_sequences"] == ["END"] and body["metadata"] == {"user_id": "u-1"}
    assert body["tools"] == [{"name": "get_weather", "description": "Weather for a city",
                              "input_schema": TOOLS[0]["function"]["parameters"]}]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


@pytest.mark.parametrize(("choice", "expected"), [
    ("auto", {"type": "auto"}), ("none", {"type": "none"}),
    ({"type": "function", "function": {"name": "get_weather"}}, {"type": "tool", "name": "get_weather"})])
def test_tool_choice_mapping(choice: Any, expected: dict[str, Any]) -> None:
    body, _ = to_anthropic(req([{"role": "user", "content": "x"}], tools=TOOLS, tool_choice=choice, max_tokens=5),
                           "c", stream=False, default_max_tokens=1)
    assert body["tool_choice"] == expected and body["max_tokens"] == 5


def test_json_schema_uses_a_forced_tool_and_comes_back_as_text() -> None:
    schema = {"type": "object", "properties": {"label": {"enum": ["a", "b"]}}, "required": ["label"]}
    rf = {"type": "json_schema", "json_schema": {"name": "out", "schema": schema}}
    body, mode = to_anthropic(req([{"role": "user", "content": "x"}], response_format=rf), "c", stream=False,
                              default_max_tokens=10)
    assert mode is not None and not mode.wrapped
    assert body["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
    assert body["tools"][-1]["input_schema"] == schema
    resp = from_anthropic({"id": "msg_1", "model": "c", "stop_reason": "tool_use",
                           "content": [{"type": "tool_use", "id": "t", "name": JSON_TOOL, "input": {"label": "b"}}],
                           "usage": {"input_tokens": 3, "output_tokens": 2}}, mode)
    assert json.loads(resp.content) == {"label": "b"}
    assert resp.finish_reason == "stop" and "tool_calls" not in resp.message


def test_non_object_schema_is_wrapped_and_unwrapped() -> None:
    schema = {"type": "array", "items": {"type": "integer"}}
    rf = {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}
    body, mode = to_anthropic(req([{"role": "user", "content": "x"}], response_format=rf), "c", stream=False,
                              default_max_tokens=10)
    assert mode is not None and mode.wrapped
    assert body["tools"][-1]["input_schema"]["required"] == ["value"]
    resp = from_anthropic({"content": [{"type": "tool_use", "id": "t", "name": JSON_TOOL, "input": {"value": [1, 2]}}],
                           "stop_reason": "tool_use", "usage": {}}, mode)
    assert json.loads(resp.content) == [1, 2]


@pytest.mark.parametrize(("stop", "finish"), [("end_turn", "stop"), ("stop_sequence", "stop"),
                                              ("max_tokens", "length"), ("tool_use", "tool_calls"),
                                              ("refusal", "content_filter")])
def test_stop_reasons(stop: str, finish: str) -> None:
    content = [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}] if stop == "tool_use" else []
    resp = from_anthropic({"content": [{"type": "text", "text": "hi"}, *content], "stop_reason": stop,
                           "usage": {"input_tokens": 2, "cache_read_input_tokens": 5, "output_tokens": 1}}, None)
    assert resp.finish_reason == finish
    assert resp.usage == Usage(7, 1, cache_read_tokens=5)  # cache reads are prompt tokens too, counted apart


def test_response_with_text_and_tool_use() -> None:
    resp = from_anthropic({"id": "m", "model": "c", "stop_reason": "tool_use", "usage": {},
                           "content": [{"type": "text", "text": "Let me check."},
                                       {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                        "input": {"city": "Paris"}}]}, None)
    assert resp.message["content"] == "Let me check."
    assert resp.message["tool_calls"] == [{"id": "toolu_1", "type": "function", "function": {
        "name": "get_weather", "arguments": '{"city":"Paris"}'}}]


def test_stream_translator_text_and_tools() -> None:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"usage": {"input_tokens": 11, "output_tokens": 1}}},
        {"type": "ping"},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi "}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_9",
                                                                      "name": "get_weather", "input": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"ci'}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": 'ty":"X"}'}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]
    t = StreamTranslator(None)
    chunks = [c for e in events if (c := t.feed(e)) is not None]
    assert chunks[0].delta == {"role": "assistant", "content": ""}
    assert chunks[1].delta == {"content": "Hi "}
    assert chunks[2].delta["tool_calls"][0] == {"index": 0, "id": "toolu_9", "type": "function",
                                                "function": {"name": "get_weather", "arguments": ""}}
    args = "".join(c.delta["tool_calls"][0]["function"]["arguments"] for c in chunks[3:5])
    assert json.loads(args) == {"city": "X"}
    assert chunks[-1].finish_reason == "tool_calls" and chunks[-1].usage == Usage(11, 9)
    assert t.finished


def test_stream_translator_json_mode_wrapped() -> None:
    rf = {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "string"}}}
    _, mode = to_anthropic(req([{"role": "user", "content": "x"}], response_format=rf), "c", stream=True,
                           default_max_tokens=1)
    t = StreamTranslator(mode)
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"usage": {"input_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t",
                                                                      "name": JSON_TOOL, "input": {}}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"val'}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": 'ue":"ok"}'}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 4}},
        {"type": "message_stop"},
    ]
    chunks = [c for e in events if (c := t.feed(e)) is not None]
    assert "".join(c.delta.get("content", "") for c in chunks) == '"ok"'
    assert chunks[-1].finish_reason == "stop"
