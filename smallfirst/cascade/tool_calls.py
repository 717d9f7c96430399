"""Tool-call answers, checked: every call names an offered function, its arguments parse as a JSON
object and match that function's ``parameters`` schema, and a forced ``tool_choice`` was obeyed.

A failing answer is rejected with the reason (``tool_unknown``, ``tool_args_invalid_json``,
``tool_args_schema``, ``tool_call_missing``, ``tool_not_chosen``) and escalates like any failed check.
An answer in prose to ``tool_choice`` auto is a valid answer (the model chose not to call a tool).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from smallfirst.config.cascade import validator_class
from smallfirst.core.types import ChatRequest, ChatResponse


def _functions(request: ChatRequest) -> dict[str, Any]:
    """Offered function name → its parameters schema (None when it declares none)."""
    out: dict[str, Any] = {}
    for t in request.tools or ():
        fn = t.get("function") if t.get("type", "function") == "function" else None
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            out[fn["name"]] = fn.get("parameters")
    return out


def _forced(request: ChatRequest) -> tuple[bool, str | None]:
    """(a call is required, the function it must be) from ``tool_choice``."""
    choice = request.body.get("tool_choice")
    if choice == "required":
        return True, None
    if isinstance(choice, Mapping):
        fn = choice.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else choice.get("name")
        return True, name if isinstance(name, str) else None
    return False, None


def tool_call_problem(request: ChatRequest, response: ChatResponse) -> str | None:
    """Why the answer's tool calls are not acceptable for ``request``, or None."""
    functions = _functions(request)
    if not functions:
        return None
    calls = response.message.get("tool_calls") or []
    required, name = _forced(request)
    if not calls:
        return "tool_call_missing" if required else None
    for call in calls:
        fn = call.get("function") if isinstance(call, Mapping) else None
        called = fn.get("name") if isinstance(fn, Mapping) else None
        if not isinstance(called, str) or called not in functions:
            return "tool_unknown"
        if name is not None and called != name:
            return "tool_not_chosen"
        raw = fn.get("arguments") if isinstance(fn, Mapping) else None
        try:
            args = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
        except orjson.JSONDecodeError:
            return "tool_args_invalid_json"
        if not isinstance(args, dict):
            return "tool_args_invalid_json"
        schema = functions[called]
        if isinstance(schema, Mapping) and schema:
            cls = validator_class(dict(schema))
            if next(iter(cls(dict(schema)).iter_errors(args)), None) is not None:
                return "tool_args_schema"
    return None
