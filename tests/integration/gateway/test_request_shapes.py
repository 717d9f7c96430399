"""Every request shape, through a real gateway on 127.0.0.1, driven by the official ``openai`` and ``anthropic`` SDKs.

The local tier is the real embedded SmolLM2 (what it answers does not matter here: that it answers does);
the fake OpenAI, Anthropic and Ollama servers record what each backend actually sends upstream.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from smallfirst.backends.embedded import EmbeddedBackend, default_model_path
from smallfirst.backends.errors import UnsupportedContentError
from smallfirst.config.loader import parse
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.types import ChatRequest
from smallfirst.server.app import Gateway, create_app
from tests.fakes import FakeAnthropic, FakeOllama, FakeOpenAI
from tests.helpers.gateway import free_port, running
from tests.integration.gateway.conftest import GatewayFactory, log_rows

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
PNG = f"data:image/png;base64,{PNG_B64}"
LINK = "https://images.example.com/cat.jpg"
CC = {"type": "ephemeral"}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
WEATHER_FN = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city.",
                                               "parameters": {"type": "object", "properties": {
                                                   "city": {"type": "string"}}, "required": ["city"]}}}
WEATHER_TOOL = {"name": "get_weather", "description": "Weather for a city.",
                "input_schema": WEATHER_FN["function"]["parameters"]}


# --- the embedded local tier (real SmolLM2) -------------------------------------------------------------


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[openai.OpenAI, anthropic.Anthropic, Gateway]]:
    log = tmp_path_factory.mktemp("shapes") / "log.db"
    app = create_app(parse({"log": {"path": str(log), "flush_interval_s": 0.01},
                            "tiers": [{"name": "local", "endpoints": [{"backend": "embedded", "n_ctx": 2048}]}]}))
    with running(app) as url:
        oai = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        ant = anthropic.Anthropic(base_url=url, api_key="unused", max_retries=0)
        yield oai, ant, app
        oai.close()
        ant.close()


def test_text_parts_are_answered_locally(local: Any) -> None:
    oai, _, _ = local
    parts: Any = [{"type": "text", "text": "Name a colour."}, {"type": "text", "text": "One word."}]
    raw = oai.chat.completions.with_raw_response.create(
        model="smallfirst/auto", max_tokens=8, messages=[{"role": "system", "content": [{"type": "text",
                                                                                        "text": "Be brief."}]},
                                                        {"role": "user", "content": parts}])
    assert raw.headers["x-smallfirst-tier"] == "local"
    assert raw.parse().choices[0].message.content
    streamed = list(oai.chat.completions.create(model="smallfirst/auto", max_tokens=6, stream=True,
                                                messages=[{"role": "user", "content": parts}]))
    assert any(c.choices and c.choices[0].delta.content for c in streamed)


def test_two_anthropic_text_blocks_are_answered_locally(local: Any) -> None:
    _, ant, _ = local
    msg = ant.messages.create(model="smallfirst/auto", max_tokens=8, system=[
        {"type": "text", "text": "Be brief.", "cache_control": CC}, {"type": "text", "text": "Answer in English."}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "Name a colour."},
                                               {"type": "text", "text": "One word.", "cache_control": CC}]}])
    assert msg.content and msg.content[0].type == "text" and msg.usage.output_tokens > 0


def test_a_tool_loop_finishes_on_the_local_tier(local: Any) -> None:
    """An assistant turn with content null and tool_calls, then the tool's result: the turn every client sends."""
    oai, _, _ = local
    messages: Any = [{"role": "user", "content": "What is the weather in Paris?"},
                     {"role": "assistant", "content": None, "tool_calls": [CALL]},
                     {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "18 C, sunny"}]}]
    r = oai.chat.completions.create(model="smallfirst/auto", max_tokens=12, messages=messages, tools=[WEATHER_FN])
    assert r.choices[0].finish_reason in ("stop", "length", "tool_calls")
    streamed = list(oai.chat.completions.create(model="smallfirst/auto", max_tokens=6, messages=messages,
                                                stream=True))
    assert streamed[-1].choices[0].finish_reason in ("stop", "length")


def test_an_anthropic_tool_loop_finishes_on_the_local_tier(local: Any) -> None:
    _, ant, app = local
    msg = ant.messages.create(model="smallfirst/auto", max_tokens=12, tools=[WEATHER_TOOL],  # type: ignore[list-item]
                              messages=[{"role": "user", "content": "Weather in Paris?"},
                                        {"role": "assistant", "content": [
                                            {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                             "input": {"city": "Paris"}}]},
                                        {"role": "user", "content": [
                                            {"type": "tool_result", "tool_use_id": "toolu_1",
                                             "content": [{"type": "text", "text": "18 C"},
                                                         {"type": "text", "text": "sunny"}]},
                                            {"type": "text", "text": "So, what should I wear?"}]}])
    assert msg.stop_reason in ("end_turn", "max_tokens", "tool_use")
    assert all(r.status == 200 and r.tier == "local" for r in log_rows(app))


@pytest.mark.anyio
async def test_the_embedded_backend_says_it_cannot_see_images() -> None:
    """Called directly (routing keeps images away from it), the error names the part and what to do."""
    backend = EmbeddedBackend(EndpointConfig(backend="embedded"))
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                             {"type": "image_url", "image_url": {"url": PNG}}]}]
    with pytest.raises(UnsupportedContentError) as exc:
        await backend.complete(ChatRequest(model="m", messages=messages, body={"messages": messages}))
    assert exc.value.status == 400 and "messages[0].content[1] is an image" in exc.value.message
    assert "reads text only" in exc.value.message and "capabilities.images" in exc.value.hint
    with pytest.raises(UnsupportedContentError):
        async for _ in backend.stream(ChatRequest(model="m", messages=messages, body={"messages": messages})):
            pass
    await backend.aclose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- what each backend sends upstream (fake servers) ------------------------------------------------------


def tier(endpoint: dict[str, Any]) -> dict[str, Any]:
    return {"log": {"store_prompts": True}, "tiers": [{"name": "upper", "endpoints": [endpoint]}]}


def test_openai_upstream_gets_parts_and_images_as_sent(gateway: GatewayFactory,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_OPENAI_KEY", "sk-test")
    parts: Any = [{"type": "text", "text": "What is in"}, {"type": "text", "text": "these?"},
                  {"type": "image_url", "image_url": {"url": LINK, "detail": "low"}},
                  {"type": "image_url", "image_url": {"url": PNG}}]
    with FakeOpenAI().in_thread() as srv, gateway(tier({"backend": "openai", "model": "gpt-4o", "base_url":
                                                        srv.base_url, "api_key_env": "FAKE_OPENAI_KEY"})) as (url, _):
        oai = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        oai.chat.completions.create(model="smallfirst/auto", messages=[{"role": "user", "content": parts}])
        ant = anthropic.Anthropic(base_url=url, api_key="unused", max_retries=0)
        ant.messages.create(model="smallfirst/auto", max_tokens=16, cache_control=CC,
                            system=[{"type": "text", "text": "Rules.", "cache_control": CC}],
                            tools=[{**WEATHER_TOOL, "cache_control": CC}],  # type: ignore[list-item]
                            messages=[{"role": "user", "content": [
                                {"type": "text", "text": "Look.", "cache_control": CC},
                                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                             "data": PNG_B64}}]}])
        oai.close()
        ant.close()
    first, second = (r.body for r in srv.requests if r.path == "/v1/chat/completions")
    assert first["messages"] == [{"role": "user", "content": parts}]
    assert second["messages"] == [{"role": "system", "content": [{"type": "text", "text": "Rules."}]},
                                  {"role": "user", "content": [{"type": "text", "text": "Look."},
                                                               {"type": "image_url", "image_url": {"url": PNG}}]}]
    assert "cache_control" not in second and "cache_control" not in str(second["tools"])  # OpenAI has no such key


def test_llama_cpp_python_server_gets_strings(gateway: GatewayFactory) -> None:
    """llama-cpp-python's server templates content as a string: parts flattened, null content as ""."""
    with FakeOpenAI().in_thread() as srv, gateway(tier({"backend": "llamacpp", "model": "smollm2",
                                                        "base_url": srv.base_url})) as (url, _):
        oai = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        oai.chat.completions.create(model="smallfirst/auto", messages=[
            {"role": "user", "content": [{"type": "text", "text": "Weather"}, {"type": "text", "text": "in Paris?"}]},
            {"role": "assistant", "content": None, "tool_calls": [CALL]},  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "18 C"}]}])
        oai.close()
    (sent,) = (r.body for r in srv.requests if r.path == "/v1/chat/completions")
    assert [m["content"] for m in sent["messages"]] == ["Weather\nin Paris?", "", "18 C"]
    assert sent["messages"][1]["tool_calls"] == [CALL]


@pytest.mark.slow
def test_a_tool_loop_finishes_on_a_real_llama_cpp_python_server(gateway: GatewayFactory) -> None:
    """The server itself answers text parts and content null with an error; through the gateway it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_model_path()), "--model_alias", "smollm2",
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--n_threads", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    messages: Any = [{"role": "user", "content": [{"type": "text", "text": "Weather"}, {"type": "text", "text": "?"}]},
                     {"role": "assistant", "content": None, "tool_calls": [CALL]},
                     {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "18 C"}]}]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not start")
            time.sleep(0.2)
        direct = httpx.post(base + "/chat/completions", json={"model": "smollm2", "messages": messages,
                                                              "max_tokens": 4}, timeout=60)
        assert direct.status_code >= 400  # what the gateway saves its clients from
        with gateway(tier({"backend": "llamacpp", "model": "smollm2", "base_url": base})) as (url, _):
            oai = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
            r = oai.chat.completions.create(model="smallfirst/auto", messages=messages, max_tokens=4)
            oai.close()
        assert r.choices[0].finish_reason in ("stop", "length")
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def claude(gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeAnthropic, str, Gateway]]:
    """A Claude Sonnet 4.5 endpoint (fake), off this host, so it is priced from the catalog: $3 / $15 per MTok."""
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", "sk-ant-test-KEY0123456")
    with FakeAnthropic(api_key="sk-ant-test-KEY0123456").in_thread() as srv, gateway(tier(
            {"backend": "anthropic", "model": "claude-sonnet-4-5", "base_url": srv.url, "location": "us",
             "api_key_env": "FAKE_ANTHROPIC_KEY"})) as (url, app):
        yield srv, url, app


def test_anthropic_upstream_gets_image_blocks(claude: tuple[FakeAnthropic, str, Gateway]) -> None:
    srv, url, _ = claude
    oai = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    oai.chat.completions.create(model="smallfirst/auto", messages=[{"role": "user", "content": [
        {"type": "text", "text": "Compare"}, {"type": "image_url", "image_url": {"url": PNG}},
        {"type": "image_url", "image_url": {"url": LINK}}]}])
    oai.close()
    (sent,) = (r.body for r in srv.requests if r.path == "/v1/messages")
    assert sent["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "Compare"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
        {"type": "image", "source": {"type": "url", "url": LINK}}]}]


DOC = "The quick brown fox jumps over the lazy dog. " * 20  # 180 words: the fake's tokenizer counts words


def test_cache_control_reaches_anthropic_and_cache_tokens_are_billed_at_cache_prices(
        claude: tuple[FakeAnthropic, str, Gateway]) -> None:
    srv, url, app = claude
    ant = anthropic.Anthropic(base_url=url, api_key="unused", max_retries=0)
    system: Any = [{"type": "text", "text": DOC, "cache_control": CC}, {"type": "text", "text": "Be brief."}]
    ask: Any = [{"role": "user", "content": [{"type": "text", "text": "Summarise the document."}]}]
    first = ant.messages.create(model="smallfirst/auto", max_tokens=32, system=system, messages=ask,
                                tools=[{**WEATHER_TOOL, "cache_control": CC}])  # type: ignore[list-item]
    second = ant.messages.create(model="smallfirst/auto", max_tokens=32, system=system, messages=ask,
                                 tools=[{**WEATHER_TOOL, "cache_control": CC}])  # type: ignore[list-item]
    with ant.messages.stream(model="smallfirst/auto", max_tokens=32, system=system, messages=ask) as s:
        streamed = s.get_final_message()
    ant.close()
    sent = [r.body for r in srv.requests if r.path == "/v1/messages"]
    assert sent[0]["system"] == system and sent[0]["tools"][0]["cache_control"] == CC
    # the fake caches the prefix up to the last breakpoint: the tool and the document (180 words)
    assert (first.usage.cache_creation_input_tokens, first.usage.cache_read_input_tokens) == (180, 0)
    assert (second.usage.cache_creation_input_tokens, second.usage.cache_read_input_tokens) == (0, 180)
    assert first.usage.input_tokens == second.usage.input_tokens == 5  # "Be brief." + "Summarise the document."
    assert streamed.usage.cache_creation_input_tokens == 180  # no tool this time: a new prefix, written
    rows = sorted(log_rows(app), key=lambda r: r.ts)
    out = [first.usage.output_tokens, second.usage.output_tokens, streamed.usage.output_tokens]
    # by hand, per million tokens: input $3, output $15, 5-minute cache writes 1.25 x 3 = $3.75, reads 0.1 x 3 = $0.30
    assert rows[0].cost_usd == pytest.approx((5 * 3 + 180 * 3.75 + out[0] * 15) / 1e6)
    assert rows[1].cost_usd == pytest.approx((5 * 3 + 180 * 0.30 + out[1] * 15) / 1e6)
    assert rows[2].cost_usd == pytest.approx((5 * 3 + 180 * 3.75 + out[2] * 15) / 1e6)
    assert rows[0].prompt_tokens == 185  # every input token, cached ones included


def test_openai_clients_see_cache_reads_in_usage(claude: tuple[FakeAnthropic, str, Gateway]) -> None:
    srv, url, _ = claude
    oai = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    messages: Any = [{"role": "system", "content": [{"type": "text", "text": DOC, "cache_control": CC}]},
                     {"role": "user", "content": "Summarise."}]
    oai.chat.completions.create(model="smallfirst/auto", messages=messages)
    again = oai.chat.completions.create(model="smallfirst/auto", messages=messages)
    chunks = list(oai.chat.completions.create(model="smallfirst/auto", messages=messages, stream=True,
                                              stream_options={"include_usage": True}))
    oai.close()
    assert again.usage is not None and again.usage.prompt_tokens == 181
    assert again.usage.prompt_tokens_details is not None and again.usage.prompt_tokens_details.cached_tokens == 180
    final = chunks[-1].usage
    assert final is not None and final.prompt_tokens_details is not None
    assert final.prompt_tokens_details.cached_tokens == 180
    assert srv.requests[-1].body["system"] == [{"type": "text", "text": DOC, "cache_control": CC}]


def test_ollama_gets_base64_images_and_refuses_links(gateway: GatewayFactory) -> None:
    with FakeOllama().in_thread() as srv, gateway(tier({"backend": "ollama_native", "model": "llama3.2",
                                                        "base_url": srv.url,
                                                        "capabilities": {"images": True}})) as (url, _):
        oai = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        oai.chat.completions.create(model="smallfirst/auto", messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is"}, {"type": "text", "text": "this?"},
            {"type": "image_url", "image_url": {"url": PNG}}]}])
        with pytest.raises(openai.BadRequestError) as exc:
            oai.chat.completions.create(model="smallfirst/auto", messages=[{"role": "user", "content": [
                {"type": "text", "text": "And this?"}, {"type": "image_url", "image_url": {"url": LINK}}]}])
        oai.close()
    (sent,) = (r.body for r in srv.requests if r.path == "/api/chat")
    assert sent["messages"] == [{"role": "user", "content": "What is\nthis?", "images": [PNG_B64]}]
    text = str(exc.value)
    assert "messages[0].content[1] is an image link" in text and "does not fetch links" in text
    assert "data:image/png;base64" in text  # the hint says how to send it


def test_bad_image_parts_are_a_400_naming_the_part(local: Any) -> None:
    oai, _, _ = local
    with pytest.raises(openai.BadRequestError) as exc:
        oai.chat.completions.create(model="smallfirst/auto", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}])
    assert exc.value.body is not None and exc.value.body.get("param") == "messages[0].content[0].image_url.url"  # type: ignore[union-attr]
    with pytest.raises(openai.BadRequestError) as exc:
        oai.chat.completions.create(model="smallfirst/auto", messages=[{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}])  # type: ignore[list-item]
    assert "'input_audio' is not supported" in str(exc.value)


def test_images_never_reach_the_text_only_local_tier(local: Any, tmp_path: Path) -> None:
    oai, _, app = local
    before = len(log_rows(app))
    with pytest.raises(openai.BadRequestError) as exc:
        oai.chat.completions.create(model="smallfirst/auto", messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": PNG}}]}])
    assert "image" in str(exc.value)
    assert all(r.status != 200 for r in log_rows(app)[before:])
