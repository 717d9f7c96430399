"""``litellm`` as a client (``litellm.completion(model="openai/<name>", api_base=...)``) against the gateway.

litellm fetches a model price map from GitHub when imported unless ``LITELLM_LOCAL_MODEL_COST_MAP`` is set:
the suite sets it first, so nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")

from typing import Any

import litellm
import pytest

from tests.compat.common import (
    AUTO,
    COLOR_PROMPT,
    COLOR_SCHEMA,
    MAX_TOKENS,
    NO_AUTO_TOOLS,
    PROMPT,
    TOOL_PROMPT,
    WEATHER_TOOL,
    answered_by,
    check_color,
    check_weather_args,
)
from tests.compat.conftest import Target

# litellm's own pydantic models warn when first built (ReadOnly TypedDict items): not the gateway's concern
pytestmark = pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier:UserWarning")

LIBRARY = "litellm"
NOT_APPLICABLE = {"responses": "not exercised through litellm here", "responses_stream": "see responses",
                  "count_tokens": "litellm counts tokens client-side", "image": "covered by the openai SDK",
                  "text_parts": "covered by the openai SDK", "tools_followup": "covered by the openai SDK"}


def call(target: Target, model: str = AUTO, **kw: Any) -> Any:
    return litellm.completion(model=f"openai/{model}", api_base=target.v1, api_key="unused",
                              max_tokens=MAX_TOKENS, temperature=0, num_retries=0, **kw)


def test_plain(target: Target) -> None:
    r = call(target, messages=[{"role": "user", "content": PROMPT}])
    assert (r.choices[0].message.content or "").strip()


def test_stream(target: Target) -> None:
    parts = [c.choices[0].delta.content or "" for c in call(target, messages=[{"role": "user", "content": PROMPT}],
                                                           stream=True)]
    assert "".join(parts).strip()


def test_tools_auto(target: Target) -> None:
    before = len(target.upper_calls())
    r = call(target, messages=[{"role": "user", "content": TOOL_PROMPT}], tools=[WEATHER_TOOL], tool_choice="auto")
    msg = r.choices[0].message
    if not target.has_upper:
        assert not msg.tool_calls and (msg.content or "").strip(), NO_AUTO_TOOLS
        return
    assert answered_by(target, before) == "upper"
    (tc,) = msg.tool_calls
    assert tc.function.name == "get_weather"
    check_weather_args(tc.function.arguments)


def test_tools_named(target: Target) -> None:
    r = call(target, messages=[{"role": "user", "content": TOOL_PROMPT}], tools=[WEATHER_TOOL],
             tool_choice={"type": "function", "function": {"name": "get_weather"}})
    (tc,) = r.choices[0].message.tool_calls
    assert tc.function.name == "get_weather"
    check_weather_args(tc.function.arguments)


def test_tools_stream(target: Target) -> None:
    choice: Any = "auto" if target.has_upper else {"type": "function", "function": {"name": "get_weather"}}
    name, args = "", ""
    for chunk in call(target, messages=[{"role": "user", "content": TOOL_PROMPT}], tools=[WEATHER_TOOL],
                      tool_choice=choice, stream=True):
        for tc in chunk.choices[0].delta.tool_calls or []:
            name += tc.function.name or ""
            args += tc.function.arguments or ""
    assert name == "get_weather"
    check_weather_args(args)


def test_json_schema(target: Target) -> None:
    r = call(target, messages=[{"role": "user", "content": COLOR_PROMPT}],
             response_format={"type": "json_schema", "json_schema": {"name": "color", "schema": COLOR_SCHEMA}})
    check_color(r.choices[0].message.content)


def test_embeddings(target: Target) -> None:
    r = litellm.embedding(model="openai/text-embedding-3-small", input=["a red apple", "a blue car"],
                          api_base=target.v1, api_key="unused")
    a, b = (d["embedding"] for d in r.data)
    assert len(a) == len(b) > 0 and a != b


def test_alias(target: Target) -> None:
    r = call(target, model="gpt-4o", messages=[{"role": "user", "content": PROMPT}])
    assert (r.choices[0].message.content or "").strip()
