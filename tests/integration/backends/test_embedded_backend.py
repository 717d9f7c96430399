"""Embedded llama.cpp backend with real inference: a tiny random GGUF (fast) and SmolLM2-135M (slow)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from smallfirst.backends.embedded import EmbeddedBackend, default_model_path
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.errors import ConfigError, ContextWindowExceededError
from tests.fakes.tiny_gguf import write_tiny_gguf
from tests.integration.backends.util import MakeBackend, chat, collect, text_of

pytest.importorskip("llama_cpp", reason="the embedded backend needs the [embedded] extra")
pytestmark = pytest.mark.anyio

SCHEMA = {"type": "object", "properties": {"label": {"enum": ["simple", "complex"]}}, "required": ["label"]}
RF = {"type": "json_schema", "json_schema": {"name": "route", "schema": SCHEMA}}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def embedded(make: MakeBackend, path: Path, **cfg: object) -> EmbeddedBackend:
    b = make(backend="embedded", model_path=str(path), n_threads=1, **{"n_ctx": 256, **cfg})
    assert isinstance(b, EmbeddedBackend)
    return b


async def test_json_schema_is_valid_and_deterministic(make: MakeBackend, tiny: Path) -> None:
    b = embedded(make, tiny)
    first = await b.complete(chat("the cat sat", response_format=RF, temperature=0, max_tokens=30))
    again = await b.complete(chat("the cat sat", response_format=RF, temperature=0, max_tokens=30))
    assert json.loads(first.content)["label"] in ("simple", "complex")
    assert first.content == again.content and first.finish_reason == "stop"
    assert first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0
    assert first.model == "tiny" and b.name == "embedded:tiny"


async def test_stream_matches_complete(make: MakeBackend, tiny: Path) -> None:
    b = embedded(make, tiny)
    whole = await b.complete(chat("hello world", temperature=0, max_tokens=12))
    chunks = await collect(b, chat("hello world", temperature=0, max_tokens=12))
    assert text_of(chunks) == whole.content
    final = chunks[-1]
    assert final.finish_reason == whole.finish_reason == "length"
    assert final.usage == whole.usage  # prompt counted from the model's own chat template


async def test_logprobs_reload_the_model_with_logits(make: MakeBackend, tiny: Path) -> None:
    b = embedded(make, tiny)
    r = await b.complete(chat("hello", temperature=0, max_tokens=4, logprobs=True, top_logprobs=2))
    assert r.logprobs is not None
    entries = r.logprobs["content"]
    assert len(entries) == 4 and all(isinstance(e["logprob"], float) and e["logprob"] <= 0 for e in entries)
    assert all(len(e["top_logprobs"]) == 2 for e in entries)
    json.dumps(r.logprobs)  # plain Python values, ready for the wire


async def test_named_tool_choice_gives_a_tool_call(make: MakeBackend, tiny: Path) -> None:
    tools = [{"type": "function", "function": {"name": "route", "parameters": SCHEMA}}]
    b = embedded(make, tiny)
    r = await b.complete(chat("x", tools=tools, tool_choice={"type": "function", "function": {"name": "route"}},
                              temperature=0, max_tokens=30))
    call = r.message["tool_calls"][0]
    assert call["function"]["name"] == "route" and json.loads(call["function"]["arguments"])["label"]
    assert "function_call" not in r.message


async def test_context_overflow_is_typed(make: MakeBackend, tiny: Path) -> None:
    b = embedded(make, tiny, n_ctx=64)
    with pytest.raises(ContextWindowExceededError):
        await b.complete(chat("the cat sat on the mat " * 40))
    # llama.cpp may pad n_ctx (to 256 here); the profile reports what the loaded context really holds
    assert b.capabilities.context_window == (await b.health())["n_ctx"] >= 64


async def test_concurrent_calls_are_serialised_safely(make: MakeBackend, tiny: Path) -> None:
    b = embedded(make, tiny)
    req = chat("the dog ran", response_format=RF, temperature=0, max_tokens=30)
    answers = await asyncio.gather(*(b.complete(req) for _ in range(3)))
    both = await asyncio.gather(b.complete(req), collect(b, req))
    texts = [r.content for r in answers] + [both[0].content, text_of(both[1])]
    assert len(set(texts)) == 1 and json.loads(texts[0])


async def test_abandoned_stream_releases_the_model(make: MakeBackend, tiny: Path) -> None:
    b = embedded(make, tiny)
    stream = b.stream(chat("hello", temperature=0, max_tokens=200))
    async for _ in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    r = await asyncio.wait_for(b.complete(chat("hello", temperature=0, max_tokens=3)), timeout=30)
    assert r.usage.completion_tokens == 3


async def test_health_loads_and_aclose_unloads(make: MakeBackend, tiny: Path) -> None:
    b = embedded(make, tiny)
    h = await b.health()
    assert h["ok"] is True and h["n_ctx"] == 256 and h["size_bytes"] > 100_000 and h["model_path"] == str(tiny)
    await b.aclose()
    assert (await b.complete(chat("x", max_tokens=2, temperature=0))).usage.completion_tokens == 2


def test_bad_paths_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a file"):
        EmbeddedBackend(EndpointConfig(backend="embedded", model_path=str(tmp_path / "missing.gguf")))
    model = write_tiny_gguf(tmp_path / "m.gguf")
    with pytest.raises(ConfigError, match="lora_path"):
        EmbeddedBackend(EndpointConfig(backend="embedded", model_path=str(model), lora_path=str(tmp_path / "no")))


def test_default_model_is_smollm2_from_the_wheel() -> None:
    path = default_model_path()
    assert path.suffix == ".gguf" and "SmolLM2-135M" in path.name
    b = EmbeddedBackend(EndpointConfig(backend="embedded", model="smollm2-135m"))
    assert b.model_path == path and b.name == "embedded:smollm2-135m"


@pytest.mark.slow
async def test_smollm2_answers_for_real(make: MakeBackend) -> None:
    b = make(backend="embedded", model="smollm2-135m", n_ctx=1024, n_threads=1)
    r = await b.complete(chat("Name three primary colors.", temperature=0, max_tokens=40))
    assert "red" in r.content.lower() and "blue" in r.content.lower()
    chunks = await collect(b, chat("Name three primary colors.", temperature=0, max_tokens=40))
    assert text_of(chunks) == r.content and chunks[-1].usage == r.usage
    j = await b.complete(chat("Is 'hello' simple or complex?", response_format=RF, temperature=0, max_tokens=30))
    assert json.loads(j.content)["label"] in ("simple", "complex")
