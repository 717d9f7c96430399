"""The shipped fake backend: deterministic answers, options in the model string, failures."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from smallfirst.backends.fake import FakeBackend, schema_example
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.errors import (
    ConfigError,
    ContextWindowExceededError,
    StreamInterruptedError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from smallfirst.core.types import ChatChunk, ChatRequest, ChatResponse


def fake(model: str = "echo") -> FakeBackend:
    return FakeBackend(EndpointConfig(backend="fake", model=model))


def req(text: str = "hello world", **body: Any) -> ChatRequest:
    msgs = [{"role": "user", "content": text}]
    return ChatRequest(model="m", messages=msgs, body={"messages": msgs, **body}, max_tokens=body.get("max_tokens"),
                       response_format=body.get("response_format"), tools=body.get("tools"),
                       logprobs=bool(body.get("logprobs")))


def complete(b: FakeBackend, r: ChatRequest) -> ChatResponse:
    return asyncio.run(b.complete(r))


def stream(b: FakeBackend, r: ChatRequest) -> list[ChatChunk]:
    async def go() -> list[ChatChunk]:
        return [c async for c in b.stream(r)]

    return asyncio.run(go())


def test_echo_complete_and_stream_agree() -> None:
    b = fake()
    r = complete(b, req())
    assert r.content == "echo: hello world" and r.finish_reason == "stop"
    assert r.usage.prompt_tokens == 3 and r.usage.completion_tokens == 3
    chunks = stream(b, req())
    assert "".join(c.delta.get("content", "") for c in chunks) == r.content
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage == r.usage


def test_reply_max_tokens_and_logprobs() -> None:
    r = complete(fake("echo?reply=one two three&logprob=-0.5"), req(max_tokens=2, logprobs=True))
    assert r.content == "one two" and r.finish_reason == "length"
    assert r.logprobs is not None
    assert [e["logprob"] for e in r.logprobs["content"]] == [-0.5, -0.5]


def test_json_schema_and_tools() -> None:
    schema = {"type": "object", "properties": {"label": {"enum": ["spam", "ham"]}, "n": {"type": "integer"},
                                               "tags": {"type": "array", "items": {"type": "string"}}}}
    r = complete(fake(), req(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}))
    assert json.loads(r.content) == {"label": "spam", "n": 0, "tags": ["text"]}
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"q": {"type": "string"}}}}}]
    t = complete(fake(), req(tools=tools))
    assert t.finish_reason == "tool_calls"
    assert t.message["tool_calls"][0]["function"] == {"name": "lookup", "arguments": '{"q":"text"}'}
    chunks = stream(fake(), req(tools=tools))
    assert chunks[1].delta["tool_calls"][0]["index"] == 0 and chunks[-1].finish_reason == "tool_calls"


def test_schema_example_shapes() -> None:
    assert schema_example({"anyOf": [{"type": "null"}, {"type": "string"}]}) is None
    assert schema_example({"type": ["null", "number"]}) == 0.0
    assert schema_example({"const": 3}) == 3
    assert schema_example({"type": "array", "minItems": 2, "items": {"type": "boolean"}}) == [False, False]


def test_latency_is_applied() -> None:
    t0 = time.perf_counter()
    complete(fake("echo?latency_ms=60"), req())
    assert time.perf_counter() - t0 >= 0.06


@pytest.mark.parametrize(("mode", "kind"), [("unavailable", UpstreamUnavailableError),
                                            ("rate_limit", UpstreamRateLimitError)])
def test_failures(mode: str, kind: type[Exception]) -> None:
    b = fake(f"echo?fail={mode}")
    with pytest.raises(kind):
        complete(b, req())
    with pytest.raises(kind):
        stream(b, req())
    assert asyncio.run(b.health())["ok"] is False


def test_stream_cut_after_first_chunk() -> None:
    async def go() -> list[ChatChunk]:
        got: list[ChatChunk] = []
        with pytest.raises(StreamInterruptedError):
            async for c in fake("echo?fail=stream_cut").stream(req()):
                got.append(c)
        return got

    assert len(asyncio.run(go())) == 1


def test_context_window() -> None:
    b = fake("echo?context_window=4")
    assert b.capabilities.context_window == 4
    with pytest.raises(ContextWindowExceededError):
        complete(b, req("x" * 100))


@pytest.mark.parametrize("model", ["echo?colour=red", "echo?fail=meteor", "echo?latency_ms=soon"])
def test_bad_options_are_config_errors(model: str) -> None:
    with pytest.raises(ConfigError):
        fake(model)
