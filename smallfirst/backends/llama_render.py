"""llama-cpp-python ``create_chat_completion`` arguments for an OpenAI-shaped request (the embedded backend).

llama-cpp-python hands ``messages`` to the model's Jinja chat template, which concatenates ``content``
as a string: text parts are flattened (joined by newlines), ``content: null`` becomes ``""`` and
``cache_control`` is dropped. Where the template never reads ``tool_calls`` (SmolLM2's does not),
:func:`calls_as_text` writes an assistant turn's calls into its text so the model still sees them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smallfirst.core.content import CACHE_CONTROL, flatten, tools_without_cache_control
from smallfirst.core.types import ChatRequest

_PASS_THROUGH = ("top_p", "seed", "stop", "presence_penalty", "frequency_penalty", "tool_choice")


def llama_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as llama-cpp-python's chat templates read them: every ``content`` a string."""
    out = []
    for m in messages:
        msg = {k: v for k, v in m.items() if k != CACHE_CONTROL}
        msg["content"] = flatten(m.get("content"))
        if isinstance(m.get("tool_calls"), list):
            msg["tool_calls"] = tools_without_cache_control(m["tool_calls"])
        out.append(msg)
    return out


def calls_as_text(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For a template that never reads ``tool_calls``: each call written into its assistant turn's text."""
    out = []
    for m in messages:
        calls = m.get("tool_calls")
        if m.get("role") == "assistant" and isinstance(calls, list) and calls:
            said = [str(m.get("content") or "")] if m.get("content") else []
            for c in calls:
                fn = (c.get("function") or {}) if isinstance(c, dict) else {}
                said.append(f"[called {fn.get('name', '')}({fn.get('arguments') or ''})]")
            m = {**m, "content": "\n".join(said)}
        out.append(m)
    return out


def llama_kwargs(request: ChatRequest) -> dict[str, Any]:
    """``create_chat_completion`` keyword arguments for an OpenAI-shaped request (with no image parts)."""
    body = request.body
    kw: dict[str, Any] = {"messages": llama_messages(request.messages)}
    max_tokens = request.max_tokens or body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens is not None:
        kw["max_tokens"] = int(max_tokens)
    temperature = request.temperature if request.temperature is not None else body.get("temperature")
    if temperature is not None:
        kw["temperature"] = float(temperature)
    for key in _PASS_THROUGH:
        if body.get(key) is not None:
            kw[key] = body[key]
    tools = request.tools or body.get("tools")
    if tools:
        kw["tools"] = tools_without_cache_control(tools)
    fmt = request.response_format or body.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        kw["response_format"] = {"type": "json_object", **({"schema": schema} if schema else {})}
    elif isinstance(fmt, Mapping) and fmt.get("type") == "json_object":
        kw["response_format"] = {"type": "json_object"}
    if request.logprobs or body.get("logprobs"):
        kw["logprobs"] = True
        kw["top_logprobs"] = int(body.get("top_logprobs") or 0)
    return kw
