"""Anthropic Messages request → OpenAI chat body: translation, round trip through the backend map, errors."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.backends.anthropic_map import to_anthropic
from smallfirst.core.errors import BadRequestError
from smallfirst.wire.anthropic_parse import to_openai
from smallfirst.wire.openai_parse import to_request

PNG = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
WEATHER = {"name": "get_weather", "description": "Weather for a city.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def test_full_request_translates_to_openai() -> None:
    body = {
        "model": "smallfirst/auto", "max_tokens": 300, "stream": True, "temperature": 0.2, "top_p": 0.9,
        "top_k": 40, "thinking": {"type": "enabled", "budget_tokens": 1024}, "stop_sequences": ["END"],
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "Use metric units."}],
        "metadata": {"user_id": "u-42"},
        "tools": [WEATHER], "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                         {"type": "image", "source": PNG},
                                         {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}}]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"},
                                              {"type": "text", "text": "Checking. "},
                                              {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                               "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                                              {"type": "text", "text": "18 C"}, {"type": "text", "text": "sun"}]},
                                         {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True}]},
        ],
    }
    out = to_openai(body)
    assert out == {
        "model": "smallfirst/auto", "max_tokens": 300, "stream": True, "temperature": 0.2, "top_p": 0.9,
        "stop": ["END"], "user": "u-42", "parallel_tool_calls": False, "tool_choice": "required",
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER["input_schema"],
                                                     "description": "Weather for a city."}}],
        "messages": [
            {"role": "system", "content": [  # kept as parts: the cache breakpoint stays on its block
                {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Use metric units."}]},
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}}]},
            {"role": "assistant", "content": "Checking. ", "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "get_weather",
                                                                   "arguments": '{"city":"Paris"}'}}]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18 C\nsun"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": ""},
        ],
    }
    req = to_request(out)
    assert req.stream and req.max_tokens == 300 and req.temperature == 0.2 and req.tools is not None


def test_round_trip_through_the_backend_map_is_exact() -> None:
    """Anthropic body → OpenAI shape (server side) → Anthropic body (backend side) gives the body back."""
    body: dict[str, Any] = {
        "model": "claude-x", "max_tokens": 64, "system": "Be brief.", "temperature": 0.5, "top_p": 0.9,
        "stop_sequences": ["END"], "metadata": {"user_id": "u-1"}, "tools": [WEATHER],
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather here?"},
                                         {"type": "image", "source": PNG}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Let me check."},
                                              {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                               "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                                         {"type": "text", "text": "thanks"}]},
            {"role": "assistant", "content": "You're welcome."},
            {"role": "user", "content": "bye"},
        ],
    }
    back, mode = to_anthropic(to_request(to_openai(body)), "claude-x", stream=False, default_max_tokens=1)
    assert mode is None and back == body


@pytest.mark.parametrize(
    ("patch", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"messages": "hi"}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": ["hi"]}, "messages.0"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": [{"text": "no type"}]}]}, "messages.0.content.0.type"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]}, "messages.0.content.0.text"),
        ({"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
         "messages.0.content.0.type"),
        ({"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]},
         "messages.0.content.0.source.type"),
        ({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [
            {"type": "image", "source": PNG}]}]}]}, "messages.0.content.0.content.0.type"),
        ({"messages": [{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {}}]}]},
         "messages.0.content.0.type"),
        ({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": []}]}]},
         "messages.0.content.0.input"),
        ({"system": [{"type": "image", "source": PNG}]}, "system.0.type"),
        ({"system": 3}, "system"),
        ({"stop_sequences": "END"}, "stop_sequences"),
        ({"temperature": 1.5}, "temperature"),
        ({"top_p": "high"}, "top_p"),
        ({"stream": "yes"}, "stream"),
        ({"tools": {"name": "x"}}, "tools"),
        ({"tools": [{"type": "bash_20250124", "name": "bash"}]}, "tools.0.type"),
        ({"tools": [{"name": "x"}]}, "tools.0.input_schema"),
        ({"tools": [WEATHER], "tool_choice": {"type": "maybe"}}, "tool_choice.type"),
        ({"tools": [WEATHER], "tool_choice": {"type": "tool"}}, "tool_choice.name"),
        ({"metadata": {"user_id": 7}}, "metadata.user_id"),
        ({"output_config": {"format": {"type": "regex"}}}, "output_config.format.type"),
        ({"container": "c-1"}, "container"),
    ],
)
def test_bad_input_names_the_field(patch: dict[str, Any], param: str) -> None:
    body = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}], **patch}
    body = {k: v for k, v in body.items() if v is not None}
    with pytest.raises(BadRequestError) as info:
        to_openai(body)
    assert info.value.param == param and info.value.message.startswith(param + ": ")
    assert info.value.status == 400


def test_output_config_and_tool_choice_variants() -> None:
    base = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER]}
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    out = to_openai({**base, "output_config": {"format": {"type": "json_schema", "schema": schema}, "effort": "low"}})
    assert out["response_format"] == {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    assert to_openai({**base, "tool_choice": {"type": "none"}})["tool_choice"] == "none"
    assert to_openai({**base, "tool_choice": {"type": "auto"}})["tool_choice"] == "auto"
    assert to_openai({**base, "tool_choice": {"type": "tool", "name": "get_weather"}})["tool_choice"] == {
        "type": "function", "function": {"name": "get_weather"}}
    no_tools = to_openai({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}],
                          "tool_choice": {"type": "auto"}})
    assert "tool_choice" not in no_tools and "tools" not in no_tools
