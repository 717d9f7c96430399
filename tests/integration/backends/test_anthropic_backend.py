"""Anthropic backend against the fake Messages API (built from the official anthropic SDK types)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smallfirst.core.errors import (
    ContextWindowExceededError,
    StreamInterruptedError,
    UpstreamAuthError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from smallfirst.core.protocols import Backend
from smallfirst.core.types import Usage
from tests.fakes import FakeAnthropic, Fault
from tests.integration.backends.util import MakeBackend, chat, collect, text_of

pytestmark = pytest.mark.anyio
KEY = "sk-ant-test-KEY0123456"


@pytest.fixture
def claude(make: MakeBackend, anthropic_srv: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> Backend:
    monkeypatch.setenv("TEST_ANTHROPIC_KEY", KEY)
    return make(backend="anthropic", model="claude-fake-1", base_url=anthropic_srv.base_url,
                api_key_env="TEST_ANTHROPIC_KEY", timeout_s=0.5)


SYS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there world"}]


async def test_complete_translates_both_ways(claude: Backend, anthropic_srv: FakeAnthropic) -> None:
    r = await claude.complete(chat(messages=SYS))
    rec = anthropic_srv.requests[-1]
    assert rec.headers["x-api-key"] == KEY and rec.headers["anthropic-version"] == "2023-06-01"
    assert rec.body["system"] == "Be brief." and rec.body["max_tokens"] == 4096
    assert rec.body["messages"] == [{"role": "user", "content": "hello there world"}]
    assert r.content == "echo: hello there world" and r.finish_reason == "stop"
    assert r.usage == Usage(5, 4) and r.id == "msg_fake01"


async def test_stream_events(claude: Backend) -> None:
    chunks = await collect(claude, chat(messages=SYS))
    assert chunks[0].delta == {"role": "assistant", "content": ""}
    assert text_of(chunks) == "echo: hello there world"
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage == Usage(5, 4)


async def test_max_tokens_maps_to_length(claude: Backend) -> None:
    r = await claude.complete(chat(max_tokens=2))
    assert r.content == "echo: hello" and r.finish_reason == "length"


async def test_tool_call_round_trip(claude: Backend, anthropic_srv: FakeAnthropic) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    first = await claude.complete(chat(tools=tools))
    assert first.finish_reason == "tool_calls"
    call = first.message["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"city": "x"}
    # the follow-up turn: the fake rejects a tool_result that does not answer the previous tool_use
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "weather?"}, first.message,
                                  {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}]
    follow = await claude.complete(chat(messages=msgs))
    assert follow.content == "echo: sunny"
    streamed = await collect(claude, chat(tools=tools))
    args = "".join(tc["function"].get("arguments", "") for c in streamed for tc in c.delta.get("tool_calls", []))
    assert json.loads(args) == {"city": "x"} and streamed[-1].finish_reason == "tool_calls"


async def test_json_schema_via_forced_tool(claude: Backend, anthropic_srv: FakeAnthropic) -> None:
    schema = {"type": "object", "properties": {"label": {"enum": ["spam", "ham"]}}, "required": ["label"]}
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    r = await claude.complete(chat(response_format=rf))
    assert json.loads(r.content) == {"label": "spam"} and r.finish_reason == "stop"
    chunks = await collect(claude, chat(response_format=rf))
    assert json.loads(text_of(chunks)) == {"label": "spam"} and chunks[-1].finish_reason == "stop"


async def test_health_lists_models_and_learns_the_window(make: MakeBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    async with FakeAnthropic(context_window=100_000) as srv:
        b = make(backend="anthropic", model="claude-fake-1", base_url=srv.base_url + "/v1")  # "/v1" tolerated
        h = await b.health()
        assert h["ok"] and h["model_listed"] and b.capabilities.context_window == 100_000


async def test_errors(claude: Backend, anthropic_srv: FakeAnthropic) -> None:
    anthropic_srv.inject(Fault(status=529, message="Overloaded"))
    with pytest.raises(UpstreamUnavailableError):
        await claude.complete(chat())
    anthropic_srv.inject(Fault(status=429, retry_after="4"))
    with pytest.raises(UpstreamRateLimitError) as exc:
        await collect(claude, chat())
    assert exc.value.retry_after_s == 4.0
    anthropic_srv.inject(Fault(delay_s=1.5))
    with pytest.raises(UpstreamTimeoutError):
        await claude.complete(chat())
    anthropic_srv.inject(Fault(error_after=4))
    with pytest.raises(StreamInterruptedError, match="Overloaded"):
        await collect(claude, chat())
    anthropic_srv.inject(Fault(cut_after=3))
    with pytest.raises(StreamInterruptedError):
        await collect(claude, chat())


async def test_wrong_key(make: MakeBackend, anthropic_srv: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-wrong-ZZZZZZZZZZ")
    b = make(backend="anthropic", model="claude-fake-1", base_url=anthropic_srv.base_url)
    with pytest.raises(UpstreamAuthError) as exc:
        await b.complete(chat())
    assert "ANTHROPIC_API_KEY" in exc.value.hint and "ZZZZZZZZZZ" not in exc.value.one_line()


async def test_prompt_too_long(make: MakeBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    async with FakeAnthropic(context_window=3) as srv:
        b = make(backend="anthropic", model="claude-fake-1", base_url=srv.base_url)
        with pytest.raises(ContextWindowExceededError):
            await b.complete(chat("one two three four five"))
