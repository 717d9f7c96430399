"""Ollama native backend against the fake Ollama server (/api/chat NDJSON, /api/tags, /api/ps, /api/show)."""

from __future__ import annotations

import json

import pytest

from smallfirst.core.errors import (
    ContextWindowExceededError,
    StreamInterruptedError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from smallfirst.core.types import Usage
from tests.fakes import FakeOllama, Fault
from tests.fakes.llama_server import free_port
from tests.integration.backends.util import MakeBackend, chat, collect, text_of

pytestmark = pytest.mark.anyio


async def test_complete_maps_options_and_usage(make: MakeBackend, ollama_srv: FakeOllama) -> None:
    b = make(backend="ollama_native", model="llama3.2", base_url=ollama_srv.base_url)
    r = await b.complete(chat(max_tokens=3, temperature=0.1))
    sent = ollama_srv.requests[-1].body
    assert sent["stream"] is False and sent["model"] == "llama3.2"
    assert sent["options"] == {"temperature": 0.1, "num_predict": 3}
    assert r.content == "echo: hello there" and r.finish_reason == "length"
    assert r.usage == Usage(3, 3)  # prompt_eval_count / eval_count


async def test_stream_ndjson(make: MakeBackend, ollama_srv: FakeOllama) -> None:
    b = make(backend="ollama_native", model="llama3.2:latest", base_url=ollama_srv.base_url)
    chunks = await collect(b, chat())
    assert ollama_srv.requests[-1].body["stream"] is True
    assert chunks[0].delta["role"] == "assistant"
    assert text_of(chunks) == "echo: hello there world"
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage == Usage(3, 4)


async def test_json_schema_tools_logprobs(make: MakeBackend, ollama_srv: FakeOllama) -> None:
    b = make(backend="ollama_native", model="llama3.2", base_url=ollama_srv.base_url)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    r = await b.complete(chat(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}))
    assert ollama_srv.requests[-1].body["format"] == schema and json.loads(r.content) == {"n": 1}
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"q": {"type": "string"}}}}}]
    t = await b.complete(chat(tools=tools))
    assert t.finish_reason == "tool_calls"
    assert json.loads(t.message["tool_calls"][0]["function"]["arguments"]) == {"q": "x"}
    chunks = await collect(b, chat(tools=tools))
    assert chunks[-1].finish_reason == "tool_calls" and chunks[0].delta["tool_calls"][0]["index"] == 0
    lp = await b.complete(chat(logprobs=True))
    assert lp.logprobs is not None and len(lp.logprobs["content"]) == 4


async def test_health_reads_tags_ps_and_show(make: MakeBackend) -> None:
    async with FakeOllama(trained_context=32768, num_ctx=16384) as srv:
        b = make(backend="ollama_native", model="llama3.2", base_url=srv.base_url)
        assert b.capabilities.context_window == 4096  # Ollama's default until /api/show says otherwise
        h = await b.health()
        assert h["ok"] is True and h["model_listed"] is True and h["loaded"] == []
        assert h["model_context_length"] == 32768 and h["context_window"] == 16384
        assert b.capabilities.context_window == 16384 and b.capabilities.tools
        await b.complete(chat())
        assert (await b.health())["loaded"] == ["llama3.2:latest"]


async def test_health_for_a_model_not_pulled(make: MakeBackend, ollama_srv: FakeOllama) -> None:
    h = await make(backend="ollama_native", model="qwen3:8b", base_url=ollama_srv.base_url).health()
    assert h["ok"] is False and "ollama pull qwen3:8b" in h["hint"]


async def test_unknown_model_is_an_upstream_error_with_a_hint(make: MakeBackend, ollama_srv: FakeOllama) -> None:
    b = make(backend="ollama_native", model="nope", base_url=ollama_srv.base_url)
    with pytest.raises(UpstreamError) as exc:
        await b.complete(chat())
    assert exc.value.retryable and "not found" in exc.value.message and "pulled" in exc.value.hint


async def test_down_server(make: MakeBackend) -> None:
    b = make(backend="ollama_native", model="m", base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UpstreamUnavailableError) as exc:
        await collect(b, chat())
    assert "ollama serve" in exc.value.hint
    assert (await b.health())["ok"] is False


async def test_faults(make: MakeBackend, ollama_srv: FakeOllama) -> None:
    b = make(backend="ollama_native", model="llama3.2", base_url=ollama_srv.base_url, timeout_s=0.3)
    ollama_srv.inject(Fault(status=500, message="llama runner process has terminated"))
    with pytest.raises(UpstreamError, match="runner process"):
        await b.complete(chat())
    ollama_srv.inject(Fault(delay_s=1.5))
    with pytest.raises(UpstreamTimeoutError):
        await collect(b, chat())
    ollama_srv.inject(Fault(cut_after=2))
    with pytest.raises(StreamInterruptedError):
        await collect(b, chat())
    ollama_srv.inject(Fault(error_after=2, message="an error was encountered while running the model"))
    with pytest.raises(StreamInterruptedError, match="running the model"):
        await collect(b, chat())


async def test_context_overflow(make: MakeBackend) -> None:
    async with FakeOllama(context_window=3) as srv:
        b = make(backend="ollama_native", model="llama3.2", base_url=srv.base_url)
        with pytest.raises(ContextWindowExceededError):
            await b.complete(chat("a b c d e f"))
