from __future__ import annotations

from typing import Any

import pytest

from smallfirst.core.errors import BadRequestError
from smallfirst.wire.openai_parse import parse_json, to_request

OK: dict[str, Any] = {"model": "smallfirst/auto", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("raw", [b"", b"{", b"[1,2]", b'"x"', b"nul"])
def test_parse_json_rejects(raw: bytes) -> None:
    with pytest.raises(BadRequestError):
        parse_json(raw)


@pytest.mark.parametrize(
    ("patch", "param"),
    [
        ({"model": ""}, "model"),
        ({"model": 3}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]}, "messages[0].content[0].text"),
        ({"stream": "yes"}, "stream"),
        ({"temperature": 3}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": 2, "stream": True}, "n"),
        ({"n": 129}, "n"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"tools": {"a": 1}}, "tools"),
        ({"metadata": [1]}, "metadata"),
    ],
)
def test_bad_fields_name_the_param(patch: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequestError) as ei:
        to_request({**OK, **patch})
    assert ei.value.param == param
    body = ei.value.to_openai()["error"]
    assert body["type"] == "invalid_request_error" and body["param"] == param


def test_valid_request_fields() -> None:
    r = to_request({**OK, "stream": True, "stream_options": {"include_usage": True}, "max_completion_tokens": 9,
                    "metadata": {"task": "classify"},
                    "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}})
    assert r.stream and r.include_usage and r.max_tokens == 9
    assert r.metadata["task"] == "classify"
    assert r.response_format is not None and r.text() == "hi"


def test_assistant_tool_call_without_content_is_valid() -> None:
    msgs = [{"role": "user", "content": "x"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function",
                                                                    "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "1", "content": "42"}]
    assert len(to_request({**OK, "messages": msgs}).messages) == 3
