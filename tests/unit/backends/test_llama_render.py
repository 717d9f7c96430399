"""What the embedded backend hands llama-cpp-python's chat templates, and its error messages."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest

from smallfirst.backends.errors import ErrorContext, llama_error
from smallfirst.backends.llama_render import calls_as_text, llama_kwargs, llama_messages
from smallfirst.core.errors import UpstreamBadRequestError
from smallfirst.core.types import ChatRequest

CC = {"type": "ephemeral"}
CALL = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
CTX = ErrorContext("embedded:smollm2-135m", "/models/m.gguf", 30.0)


def test_every_content_becomes_a_string() -> None:
    out = llama_messages([
        {"role": "system", "content": [{"type": "text", "text": "Be brief.", "cache_control": CC}]},
        {"role": "user", "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]},
        {"role": "assistant", "content": None, "tool_calls": [{**CALL, "cache_control": CC}]},
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "18 C"}]},
    ])
    assert out == [{"role": "system", "content": "Be brief."},
                   {"role": "user", "content": "first\nsecond"},
                   {"role": "assistant", "content": "", "tool_calls": [CALL]},
                   {"role": "tool", "tool_call_id": "c1", "content": "18 C"}]


def test_calls_written_as_text_for_templates_without_tool_calls() -> None:
    msgs: list[dict[str, Any]] = [{"role": "assistant", "content": "", "tool_calls": [CALL]},
                                  {"role": "assistant", "content": "Checking.", "tool_calls": [CALL]},
                                  {"role": "user", "content": "thanks"}]
    out = calls_as_text(msgs)
    assert out[0]["content"] == '[called get_weather({"city":"Paris"})]'
    assert out[1]["content"] == 'Checking.\n[called get_weather({"city":"Paris"})]'
    assert out[2] is msgs[2]


def test_kwargs_drop_cache_control_from_tools() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}, "cache_control": CC}]
    msgs = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    kw = llama_kwargs(ChatRequest(model="m", messages=msgs, body={"messages": msgs, "tools": tools}, tools=tools))
    assert kw["messages"] == [{"role": "user", "content": "hi"}]
    assert kw["tools"] == [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def test_llama_errors_name_the_real_cause() -> None:
    shape = llama_error(CTX, TypeError('can only concatenate str (not "list") to str'))
    assert isinstance(shape, UpstreamBadRequestError) and "not a string" in shape.message
    assert "list, an object or null" in shape.hint and "request options" not in shape.hint
    template = llama_error(CTX, jinja2.exceptions.TemplateError("Conversation roles must alternate user/assistant"))
    assert isinstance(template, UpstreamBadRequestError) and "chat template rejected" in template.message
    assert "alternating" in template.hint
    overflow = llama_error(CTX, ValueError("Requested tokens (5000) exceed context window of 4096"))
    assert overflow.code == "context_length_exceeded"
    other = llama_error(CTX, ValueError("bad grammar"))
    assert isinstance(other, UpstreamBadRequestError) and "rejected the request: bad grammar" in other.message


@pytest.mark.parametrize("content", [None, "", []])
def test_empty_contents(content: Any) -> None:
    assert llama_messages([{"role": "assistant", "content": content}]) == [{"role": "assistant", "content": ""}]
