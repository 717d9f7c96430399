"""Shared pieces of the compatibility suite: the scenario list, per-config expectations, request fixtures.

Each test module covers one client library: ``LIBRARY`` (its distribution name), ``NOT_APPLICABLE``
(scenario → why the library has no such feature) and one ``test_<scenario>`` per scenario it has.
``scripts/compat_matrix.py`` runs the suite and writes docs/compatibility.md from those names.

``@on(local=..., upper=...)`` parametrizes a test over the two configs (tests/compat/conftest.py); a
reason string marks that config ``xfail(strict=True)`` — the feature is not built yet, and the test turns
into a failure the moment it lands (then the mark goes).
"""

from __future__ import annotations

import json
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, ConfigDict

from tests.compat.conftest import CONFIGS, Target

SCENARIOS: dict[str, str] = {
    "plain": "plain chat",
    "stream": "streaming",
    "text_parts": "content as text parts",
    "image": "image input",
    "tools_auto": "tools, tool_choice auto",
    "tools_named": "tools, named tool_choice",
    "tools_stream": "streamed tool calls",
    "tools_followup": "follow-up turn with the tool result",
    "json_schema": "structured output (JSON schema)",
    "responses": "Responses API",
    "responses_stream": "Responses API, streamed",
    "embeddings": "embeddings",
    "alias": "model name an unmodified app sends",
    "count_tokens": "token counting",
}

AUTO = "smallfirst/auto"
MAX_TOKENS = 16  # every local call stays short: the suite runs in `make test` on 2 cores
PROMPT = "Say hello in one short sentence."
# A 1×1 PNG, as a data URL (what SDKs send for a local image file).
PNG_DATA_URL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9"
                "awAAAABJRU5ErkJggg==")

WEATHER_PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo", "Lima"]}},
    "required": ["city"],
    "additionalProperties": False,
}
WEATHER_TOOL: Any = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city.", "parameters": WEATHER_PARAMS}}
TOOL_PROMPT = "What is the weather in Paris? Use the get_weather tool."
TOOL_RESULT = "Sunny, 21 C"

# Answers the small local model cannot be relied on to produce (it never picks a tool by itself):
# where a config can only answer from the local tier, the test checks a well-formed prose answer.
NO_AUTO_TOOLS = "SmolLM2 does not choose tools itself (the embedded backend declares tools=False)"


class Color(BaseModel):
    """The structured-output schema: one enum field, so a grammar-constrained answer fits in 16 tokens."""

    model_config = ConfigDict(extra="forbid")
    color: Literal["red", "green", "blue"]


COLOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"color": {"type": "string", "enum": ["red", "green", "blue"]}},
    "required": ["color"],
    "additionalProperties": False,
}
COLOR_PROMPT = "Which colour is the sky? Answer in JSON."


def on(*, local: str | None = None, upper: str | None = None) -> pytest.MarkDecorator:
    """Run the test in both configs; a reason marks that config xfail(strict) for a missing feature."""
    params = []
    for cfg, why in zip(CONFIGS, (local, upper), strict=True):
        marks = [pytest.mark.xfail(strict=True, reason=f"issue 14: {why}")] if why else []
        params.append(pytest.param(cfg, marks=marks, id=cfg))
    return pytest.mark.parametrize("target", params, indirect=True)


def check_weather_args(arguments: str | dict[str, Any]) -> dict[str, Any]:
    """The tool call's arguments parse and match get_weather's schema."""
    args = json.loads(arguments) if isinstance(arguments, str) else arguments
    jsonschema.validate(args, WEATHER_PARAMS)
    return dict(args)


def check_color(data: str | dict[str, Any]) -> dict[str, Any]:
    obj = json.loads(data) if isinstance(data, str) else data
    jsonschema.validate(obj, {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]})
    return dict(obj)


def tool_turns(call_id: str, arguments: str) -> list[dict[str, Any]]:
    """A finished tool round in OpenAI chat shape: the assistant's call (``content: null``) and its result."""
    return [
        {"role": "user", "content": TOOL_PROMPT},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": call_id, "content": TOOL_RESULT},
    ]


def answered_by(target: Target, upper_before: int) -> str:
    """Which tier answered, from the upper fake's request count (for libraries that hide headers)."""
    return "upper" if len(target.upper_calls()) > upper_before else "local"
