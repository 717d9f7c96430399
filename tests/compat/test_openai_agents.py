"""``openai-agents`` (the Agents SDK) against the gateway: its default model speaks the Responses API.

The agent's model is ``OpenAIResponsesModel`` (or ``OpenAIChatCompletionsModel``) on an ``AsyncOpenAI``
client pointed at the gateway; tracing is off (it would export to OpenAI).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    RunResult,
    function_tool,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

from tests.compat.common import AUTO, PROMPT, TOOL_PROMPT, TOOL_RESULT, on
from tests.compat.conftest import Target

LIBRARY = "openai-agents"
# the SDK raises on an answer cut by max_output_tokens (`response.incomplete`), as against OpenAI: room for
# SmolLM2's short answers
AGENT_MAX_TOKENS = 96
NOT_APPLICABLE = {
    "text_parts": "the SDK builds its own input items", "image": "not exercised through an agent here",
    "tools_named": "agents pick tools themselves", "tools_stream": "covered by streamed runs below",
    "json_schema": "not exercised through an agent here", "embeddings": "the SDK has no embeddings client",
    "count_tokens": "the SDK counts no tokens remotely", "stream": "see responses_stream",
}


@function_tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return TOOL_RESULT


def agent(client: AsyncOpenAI, *, chat: bool = False, tools: bool = False, model: str = AUTO,
          max_tokens: int = AGENT_MAX_TOKENS) -> Agent[Any]:
    set_tracing_disabled(True)
    m = OpenAIChatCompletionsModel(model, client) if chat else OpenAIResponsesModel(model, client)
    return Agent(name="helper", instructions="Answer in at most five words.", model=m,
                 tools=[get_weather] if tools else [],
                 model_settings=ModelSettings(max_tokens=max_tokens, temperature=0))


def run(target: Target, prompt: str | list[Any], **kw: Any) -> RunResult:
    """``Runner.run`` on a fresh client that is closed in the same event loop."""

    async def go() -> RunResult:
        async with AsyncOpenAI(base_url=target.v1, api_key="unused", max_retries=0) as client:
            return await Runner.run(agent(client, **kw), prompt)

    return asyncio.run(go())


@on()
def test_plain(target: Target) -> None:
    result = run(target, PROMPT, chat=True)
    assert isinstance(result.final_output, str) and result.final_output.strip()


@on()
def test_responses(target: Target) -> None:
    result = run(target, PROMPT)
    assert isinstance(result.final_output, str) and result.final_output.strip()


@on()
def test_responses_stream(target: Target) -> None:
    async def go() -> tuple[str, list[str]]:
        async with AsyncOpenAI(base_url=target.v1, api_key="unused", max_retries=0) as client:
            streamed = Runner.run_streamed(agent(client), "Say hi.")
            kinds: list[str] = [e.type async for e in streamed.stream_events()]
            return str(streamed.final_output), kinds

    text, kinds = asyncio.run(go())
    assert text.strip() and "raw_response_event" in kinds


@on()
def test_tools_auto(target: Target) -> None:
    before = len(target.upper_calls())
    result = run(target, TOOL_PROMPT, tools=True)
    assert isinstance(result.final_output, str) and result.final_output.strip()
    if target.has_upper:  # the tool loop ran on the tier that can call tools: call, then the answer
        calls = target.upper_calls()[before:]
        assert len(calls) >= 2
        outputs = [i for c in calls[1:] for i in (c.body or {}).get("messages", []) if i.get("role") == "tool"]
        assert outputs and TOOL_RESULT in str(outputs[0].get("content"))
    else:  # SmolLM2 does not choose tools itself: the agent gets a prose answer from the local tier
        assert not any(getattr(i, "type", "") == "tool_call_item" for i in result.new_items)


@on()
def test_alias(target: Target) -> None:
    result = run(target, PROMPT, model="gpt-4o")
    assert isinstance(result.final_output, str) and result.final_output.strip()


@pytest.mark.parametrize("target", ["local+upper"], indirect=True)
def test_tools_followup(target: Target) -> None:
    """A second run continues from the first's items (function call and output included)."""
    first = run(target, TOOL_PROMPT, tools=True)
    follow = [*first.to_input_list(), {"role": "user", "content": "And tomorrow?"}]
    result = run(target, follow, tools=True)
    assert isinstance(result.final_output, str) and result.final_output.strip()
