"""Tool-call answers checked against the offered tools (smallfirst.cascade.tool_calls)."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.cascade.tool_calls import tool_call_problem
from smallfirst.core.types import ChatRequest, ChatResponse, Usage

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "now"}}]


def req(**body: Any) -> ChatRequest:
    full = {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": TOOLS, **body}
    return ChatRequest(model="m", messages=full["messages"], body=full, tools=full["tools"])


def answer(*calls: tuple[str, Any], content: str | None = None) -> ChatResponse:
    tc = [{"id": f"c{i}", "type": "function", "function": {"name": n, "arguments": a}}
          for i, (n, a) in enumerate(calls)]
    msg: dict[str, Any] = {"role": "assistant", "content": content}
    if tc:
        msg["tool_calls"] = tc
    return ChatResponse(model="m", message=msg, finish_reason="tool_calls" if tc else "stop", usage=Usage())


@pytest.mark.parametrize(("resp", "body", "problem"), [
    (answer(("get_weather", '{"city": "Paris"}')), {}, None),
    (answer(("now", "{}")), {}, None),
    (answer(content="It is sunny."), {}, None),  # auto: prose is a valid answer
    (answer(content="It is sunny."), {"tool_choice": "required"}, "tool_call_missing"),
    (answer(("get_wether", '{"city": "Paris"}')), {}, "tool_unknown"),
    (answer(("get_weather", '{"city": "Paris"')), {}, "tool_args_invalid_json"),
    (answer(("get_weather", '["Paris"]')), {}, "tool_args_invalid_json"),
    (answer(("get_weather", '{"city": 42}')), {}, "tool_args_schema"),
    (answer(("get_weather", "{}")), {}, "tool_args_schema"),
    (answer(("now", "{}")), {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
     "tool_not_chosen"),
])
def test_tool_call_problems(resp: ChatResponse, body: dict[str, Any], problem: str | None) -> None:
    assert tool_call_problem(req(**body), resp) == problem


def test_a_request_without_tools_is_not_checked() -> None:
    r = ChatRequest(model="m", messages=[], body={})
    assert tool_call_problem(r, answer(("x", "not json"))) is None
