"""OpenAI-compatible backend against the protocol-faithful fake OpenAI server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import pytest

from smallfirst.backends.openai_compat import OpenAICompatBackend
from smallfirst.core.errors import (
    ContextWindowExceededError,
    StreamInterruptedError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from smallfirst.core.protocols import Backend
from smallfirst.core.types import Usage
from tests.fakes import FakeOpenAI, Fault
from tests.fakes.llama_server import free_port
from tests.integration.backends.util import MakeBackend, chat, collect, text_of

pytestmark = pytest.mark.anyio


def compat(make: MakeBackend, srv: FakeOpenAI, **cfg: object) -> Backend:
    return make(backend="openai_compat", model="gpt-fake", base_url=srv.base_url, **cfg)


async def test_complete_passes_the_body_through_with_model_replaced(make: MakeBackend, openai_srv: FakeOpenAI) -> None:
    b = make(backend="llamacpp", model="gpt-fake", base_url=openai_srv.base_url)
    r = await b.complete(chat(max_tokens=50, temperature=0.2, seed=3, user="u1", metadata={"task": "classify"}))
    assert r.content == "echo: hello there world" and r.finish_reason == "stop"
    assert r.usage == Usage(3, 4) and r.model == "gpt-fake" and r.id == "chatcmpl-fake0001"
    sent = openai_srv.requests[-1].body
    assert sent["model"] == "gpt-fake"  # the client's "client-model" replaced
    assert sent["seed"] == 3 and sent["user"] == "u1" and sent["max_tokens"] == 50  # unknown-to-us options kept
    assert "metadata" not in sent  # the gateway's routing hints stay home
    assert "stream" not in sent and "stream_options" not in sent


async def test_stream_requests_usage_and_puts_it_on_the_final_chunk(make: MakeBackend,
                                                                    openai_srv: FakeOpenAI) -> None:
    b = make(backend="vllm", model="gpt-fake", base_url=openai_srv.base_url)
    chunks = await collect(b, chat(stream=True))
    assert openai_srv.requests[-1].body["stream_options"] == {"include_usage": True}
    assert text_of(chunks) == "echo: hello there world"
    assert chunks[0].delta["role"] == "assistant"
    assert [c.finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage == Usage(3, 4)


async def test_stream_without_upstream_usage_still_finishes(make: MakeBackend, openai_srv: FakeOpenAI) -> None:
    b = make(backend="llamacpp", model="gpt-fake", base_url=openai_srv.base_url)
    chunks = await collect(b, chat(stream=True, stream_options={"include_usage": False}))
    # the client's own stream_options are merged, and include_usage forced on
    assert openai_srv.requests[-1].body["stream_options"] == {"include_usage": True}
    assert chunks[-1].usage is not None


async def test_max_tokens_length_finish(make: MakeBackend, openai_srv: FakeOpenAI) -> None:
    b = make(backend="lmstudio", model="gpt-fake", base_url=openai_srv.base_url)
    r = await b.complete(chat(max_tokens=2))
    assert r.content == "echo: hello" and r.finish_reason == "length"
    chunks = await collect(b, chat(max_tokens=2))
    assert chunks[-1].finish_reason == "length"


async def test_tools_json_schema_and_logprobs(make: MakeBackend, openai_srv: FakeOpenAI) -> None:
    b = make(backend="ollama", model="gpt-fake", base_url=openai_srv.base_url)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    r = await b.complete(chat(tools=tools))
    assert r.finish_reason == "tool_calls"
    assert json.loads(r.message["tool_calls"][0]["function"]["arguments"]) == {"city": "x"}
    chunks = await collect(b, chat(tools=tools))
    args = "".join(tc["function"].get("arguments", "") for c in chunks for tc in c.delta.get("tool_calls", []))
    assert json.loads(args) == {"city": "x"} and chunks[-1].finish_reason == "tool_calls"
    schema = {"type": "object", "properties": {"label": {"enum": ["pos", "neg"]}}, "required": ["label"]}
    rf = {"type": "json_schema", "json_schema": {"name": "s", "schema": schema, "strict": True}}
    assert json.loads((await b.complete(chat(response_format=rf))).content) == {"label": "pos"}
    lp = await b.complete(chat(logprobs=True, top_logprobs=1))
    assert lp.logprobs is not None and [e["logprob"] for e in lp.logprobs["content"]] == [-0.05] * 4
    lp_chunks = await collect(b, chat(logprobs=True))
    assert sum(len(c.logprobs["content"]) for c in lp_chunks if c.logprobs) == 4


async def test_health_lists_models(make: MakeBackend, openai_srv: FakeOpenAI) -> None:
    h = await compat(make, openai_srv).health()
    assert h["ok"] is True and h["model_listed"] is True and h["models"] == ["gpt-fake"]


async def test_health_never_raises_when_down(make: MakeBackend) -> None:
    b = make(backend="llamacpp", model="m", base_url=f"http://127.0.0.1:{free_port()}/v1", connect_timeout_s=1)
    h = await b.health()
    assert h["ok"] is False and h["code"] == "upstream_unavailable" and "llama" in h["hint"]


async def test_connection_refused_is_unavailable_with_the_preset_hint(make: MakeBackend) -> None:
    b = make(backend="ollama", model="m", base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(UpstreamUnavailableError) as exc:
        await b.complete(chat())
    assert "ollama serve" in exc.value.hint
    with pytest.raises(UpstreamUnavailableError):
        await collect(b, chat())


@pytest.mark.parametrize("stream", [False, True])
async def test_http_500_and_503(make: MakeBackend, openai_srv: FakeOpenAI, stream: bool) -> None:
    b = compat(make, openai_srv)
    openai_srv.inject(Fault(status=500), Fault(status=503))
    for kind in (UpstreamError, UpstreamUnavailableError):
        with pytest.raises(kind) as exc:
            await (collect(b, chat()) if stream else b.complete(chat()))
        assert exc.value.retryable


@pytest.mark.parametrize("stream", [False, True])
async def test_429_carries_retry_after(make: MakeBackend, openai_srv: FakeOpenAI, stream: bool) -> None:
    b = compat(make, openai_srv)
    openai_srv.inject(Fault(status=429, retry_after="2"))
    with pytest.raises(UpstreamRateLimitError) as exc:
        await (collect(b, chat()) if stream else b.complete(chat()))
    assert exc.value.retry_after_s == 2.0


@pytest.mark.parametrize("stream", [False, True])
async def test_timeout_before_first_byte(make: MakeBackend, openai_srv: FakeOpenAI, stream: bool) -> None:
    b = compat(make, openai_srv, timeout_s=0.3)
    openai_srv.inject(Fault(delay_s=1.5))
    with pytest.raises(UpstreamTimeoutError) as exc:
        await (collect(b, chat()) if stream else b.complete(chat()))
    assert "0.3 s" in exc.value.message


async def test_dropped_connection(make: MakeBackend, openai_srv: FakeOpenAI) -> None:
    b = compat(make, openai_srv)
    openai_srv.inject(Fault(drop=True))
    with pytest.raises(UpstreamUnavailableError):
        await b.complete(chat())


async def test_cut_mid_stream_is_interrupted_after_the_chunks_so_far(make: MakeBackend,
                                                                     openai_srv: FakeOpenAI) -> None:
    b = compat(make, openai_srv)
    openai_srv.inject(Fault(cut_after=3))
    got: list[str] = []
    with pytest.raises(StreamInterruptedError):
        async for c in b.stream(chat()):
            got.append(c.delta.get("content") or "")
    assert "".join(got) == "echo: hello "


async def test_in_stream_error_event(make: MakeBackend, openai_srv: FakeOpenAI) -> None:
    b = compat(make, openai_srv)
    openai_srv.inject(Fault(error_after=3, message="model crashed"))
    with pytest.raises(StreamInterruptedError, match="model crashed"):
        await collect(b, chat())


async def test_slow_drip_still_completes(make: MakeBackend, openai_srv: FakeOpenAI) -> None:
    b = compat(make, openai_srv, timeout_s=1.0)
    openai_srv.inject(Fault(drip_s=0.05))
    chunks = await collect(b, chat())
    assert text_of(chunks) == "echo: hello there world" and chunks[-1].usage is not None


async def test_context_window_exceeded(make: MakeBackend) -> None:
    async with FakeOpenAI(context_window=5) as srv:
        b = make(backend="openai_compat", model="gpt-fake", base_url=srv.base_url)
        with pytest.raises(ContextWindowExceededError) as exc:
            await b.complete(chat("one two three four five six seven"))
        assert exc.value.retryable and exc.value.status == 400


async def test_api_key_is_sent_and_never_leaks(make: MakeBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeOpenAI(api_key="sk-right-ABCDEFGH1234") as srv:
        monkeypatch.setenv("FAKE_OPENAI_KEY", "sk-right-ABCDEFGH1234")
        good = make(backend="openai", model="gpt-fake", base_url=srv.base_url, api_key_env="FAKE_OPENAI_KEY")
        assert (await good.complete(chat())).content.startswith("echo:")
        assert srv.requests[-1].headers["Authorization"] == "Bearer sk-right-ABCDEFGH1234"
        monkeypatch.setenv("FAKE_OPENAI_KEY", "sk-wrong-ZYXWVUT98765")
        bad = make(backend="openai", model="gpt-fake", base_url=srv.base_url, api_key_env="FAKE_OPENAI_KEY")
        with pytest.raises(UpstreamAuthError) as exc:
            await bad.complete(chat())
        # the fake echoes the key back, as OpenAI does (masked) — it must not survive translation
        shown = exc.value.one_line() + json.dumps(exc.value.to_openai()) + repr(bad)
        assert "ZYXWVUT98765" not in shown and "FAKE_OPENAI_KEY" in exc.value.hint
        health = await bad.health()
        assert health["ok"] is False and "ZYXWVUT98765" not in json.dumps(health)


async def test_session_is_reused_across_requests(make: MakeBackend, openai_srv: FakeOpenAI) -> None:
    b = compat(make, openai_srv)
    assert isinstance(b, OpenAICompatBackend)
    await b.complete(chat())
    first = b._http._session
    await collect(b, chat())
    await b.complete(chat())
    assert b._http._session is first


async def test_stream_consumer_can_stop_early(make: MakeBackend, openai_srv: FakeOpenAI) -> None:
    b = compat(make, openai_srv)
    stream = b.stream(chat())
    assert isinstance(stream, AsyncGenerator)
    first = await stream.__anext__()
    await stream.aclose()
    assert first.delta["role"] == "assistant"
    assert (await b.complete(chat())).content


async def test_llamacpp_preset_sends_schemas_in_its_dialect(make: MakeBackend, openai_srv: FakeOpenAI) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    rf = {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}
    await make(backend="llamacpp", model="gpt-fake", base_url=openai_srv.base_url).complete(chat(response_format=rf))
    assert openai_srv.requests[-1].body["response_format"] == {"type": "json_object", "schema": schema}
    await make(backend="vllm", model="gpt-fake", base_url=openai_srv.base_url).complete(chat(response_format=rf))
    assert openai_srv.requests[-1].body["response_format"] == rf  # everyone else gets OpenAI's own shape
