"""Responses API requests → the internal chat request: every input shape, tools, formats, and the 400s."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.core.errors import BadRequestError
from smallfirst.wire.openai_responses import OpenAIResponses, ResponsesRequest, _readdress
from smallfirst.wire.responses_parse import to_chat

WEATHER = {"type": "function", "name": "get_weather", "description": "Weather for a city.", "strict": True,
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                          "additionalProperties": False}}


def parse(**body: Any) -> ResponsesRequest:
    req = OpenAIResponses().request({"model": "smallfirst/auto", **body}, [(b"x-smallfirst-tier", b"local")], "k1")
    assert isinstance(req, ResponsesRequest)
    return req


def refused(param: str, **body: Any) -> BadRequestError:
    with pytest.raises(BadRequestError) as info:
        parse(**body)
    assert info.value.param == param, info.value.message
    assert info.value.status == 400
    return info.value


def test_string_input_and_instructions() -> None:
    req = parse(input="hello", instructions="Be brief.", max_output_tokens=32, temperature=0.2, top_p=0.9,
                metadata={"task": "chat"}, user="u1")
    assert req.messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
    assert (req.max_tokens, req.temperature, req.metadata) == (32, 0.2, {"task": "chat"})
    assert req.body["top_p"] == 0.9 and req.body["user"] == "u1" and "input" not in req.body
    assert req.api_key_id == "k1" and req.headers == {"x-smallfirst-tier": "local"}
    assert req.turn is not None and req.turn.history is None  # nothing kept without a response store
    assert req.turn.echo["instructions"] == "Be brief." and req.turn.echo["store"] is False


def test_items_messages_parts_and_roles() -> None:
    img = {"type": "input_image", "image_url": "https://example.org/cat.png", "detail": "low"}
    req = parse(input=[
        {"role": "developer", "content": "Rules."},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"},
                                                        {"type": "input_text", "text": "b"}]},
        {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
         "content": [{"type": "output_text", "text": "ok", "annotations": []}]},
        {"role": "user", "content": [{"type": "input_text", "text": "what is this?"}, img]},
    ])
    assert req.messages == [
        {"role": "system", "content": "Rules."}, {"role": "user", "content": "a\nb"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                     {"type": "image_url", "image_url": {"url": "https://example.org/cat.png",
                                                                         "detail": "low"}}]}]


def test_function_calls_and_outputs_become_tool_turns() -> None:
    call = {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Oslo"}'}
    req = parse(input=[
        {"role": "user", "content": "weather in Oslo and Rome?"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        call, {**call, "call_id": "call_2", "arguments": '{"city":"Rome"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "cold"},
        {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "warm"}]},
    ], tools=[WEATHER])
    assert req.messages[1:] == [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "cold"},
        {"role": "tool", "tool_call_id": "call_2", "content": "warm"}]


def test_function_call_joins_the_assistant_message_before_it() -> None:
    msgs, where = to_chat({"model": "m", "input": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "Let me check."},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]}, [])[:2]
    assert msgs["messages"][1] == {"role": "assistant", "content": "Let me check.", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
    assert where == ["input[0]", "input[1]"]


def test_tools_tool_choice_and_parallel_calls() -> None:
    other = {**WEATHER, "name": "get_time"}
    req = parse(input="hi", tools=[WEATHER, other], tool_choice={"type": "function", "name": "get_time"},
                parallel_tool_calls=False)
    assert req.tools is not None and [t["function"]["name"] for t in req.tools] == ["get_weather", "get_time"]
    assert req.tools[0] == {"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city.", "parameters": WEATHER["parameters"],
        "strict": True}}
    assert req.body["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}
    assert req.body["parallel_tool_calls"] is False
    narrowed = parse(input="hi", tools=[WEATHER, other], tool_choice={
        "type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "get_time"}]})
    assert [t["function"]["name"] for t in narrowed.tools or []] == ["get_time"]
    assert narrowed.body["tool_choice"] == "required"
    assert parse(input="hi", tool_choice="auto").tools is None  # a choice without tools is dropped


def test_text_formats() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    req = parse(input="hi", text={"format": {"type": "json_schema", "name": "A", "schema": schema, "strict": True}})
    assert req.response_format == {"type": "json_schema", "json_schema": {"name": "A", "schema": schema,
                                                                          "strict": True}}
    assert parse(input="hi", text={"format": {"type": "json_object"}}).response_format == {"type": "json_object"}
    assert parse(input="hi", text={"format": {"type": "text"}, "verbosity": "low"}).response_format is None


def test_accepted_without_effect() -> None:
    req = parse(input="hi", reasoning={"effort": "low"}, truncation="auto", include=["reasoning.encrypted_content"],
                service_tier="auto", prompt_cache_key="k", store=False, stream=True, background=False)
    assert req.stream and not {"reasoning", "truncation", "include", "store", "background"} & set(req.body)


@pytest.mark.parametrize(("param", "body"), [
    ("input", {}),
    ("input", {"input": []}),
    ("input[0].role", {"input": [{"role": "tool", "content": "x"}]}),
    ("input[0].type", {"input": [{"type": "computer_call_output", "call_id": "c"}]}),
    ("input[0].type", {"input": [{"type": "item_reference", "id": "msg_1"}]}),
    ("input[0].content[0].type", {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}),
    ("input[0].content[0].file_id", {"input": [{"role": "user", "content": [{"type": "input_image",
                                                                              "file_id": "file_1"}]}]}),
    ("input[0].content[0].type", {"input": [{"role": "system", "content": [{"type": "input_image",
                                                                             "image_url": "https://x"}]}]}),
    ("input[1].call_id", {"input": [{"role": "user", "content": "x"}, {"type": "function_call_output",
                                                                       "output": "y"}]}),
    ("tools[0].type", {"input": "x", "tools": [{"type": "web_search"}]}),
    ("tools[0].type", {"input": "x", "tools": [{"type": "file_search", "vector_store_ids": ["vs"]}]}),
    ("tools[0].parameters", {"input": "x", "tools": [{"type": "function", "name": "f", "parameters": "no"}]}),
    ("tool_choice.type", {"input": "x", "tools": [WEATHER], "tool_choice": {"type": "web_search_preview"}}),
    ("text.format.type", {"input": "x", "text": {"format": {"type": "yaml"}}}),
    ("text.format.schema", {"input": "x", "text": {"format": {"type": "json_schema", "name": "a"}}}),
    ("max_output_tokens", {"input": "x", "max_output_tokens": 0}),
    ("temperature", {"input": "x", "temperature": 3}),
    ("metadata", {"input": "x", "metadata": "tag"}),
    ("stream", {"input": "x", "stream": "yes"}),
    ("model", {"input": "x", "model": ""}),
    ("frequency_penalty", {"input": "x", "frequency_penalty": 1}),
    ("conversation", {"input": "x", "conversation": "conv_1"}),
    ("prompt", {"input": "x", "prompt": {"id": "pmpt_1"}}),
    ("background", {"input": "x", "background": True}),
    ("include", {"input": "x", "include": ["message.output_text.logprobs"]}),
    ("store", {"input": "x", "store": True}),
    ("store", {"input": "x", "store": "yes"}),
    ("previous_response_id", {"input": "x", "previous_response_id": "resp_1"}),
])
def test_bad_requests_name_the_field(param: str, body: dict[str, Any]) -> None:
    err = refused(param, **body)
    assert err.to_openai()["error"]["param"] == param and err.to_openai()["error"]["type"] == "invalid_request_error"


def test_refusals_say_what_to_do_instead() -> None:
    assert "function tool" in refused("tools[0].type", input="x", tools=[{"type": "web_search"}]).hint
    hint = refused("previous_response_id", input="x", previous_response_id="resp_1").hint
    assert "whole conversation" in hint and "[responses] store = true" in hint
    assert "store: false" in refused("store", input="x", store=True).hint


def test_chat_parser_errors_are_readdressed_to_the_input_item() -> None:
    """The chat parser checks the translated messages once; its errors name the Responses field."""
    where = ["instructions", "input[0]", "input[2]"]
    err = _readdress(BadRequestError("messages[2].content[1].image_url.url must be an http(s) URL", hint="h",
                                     param="messages[2].content[1].image_url.url"), where)
    assert err.param == "input[2].content[1].image_url.url" and err.message.startswith("input[2].content[1]")
    assert err.hint == "h"
    assert _readdress(BadRequestError("'messages' is required", param="messages"), where).param == "input"
    assert _readdress(BadRequestError("bad temperature", param="temperature"), where).param == "temperature"
