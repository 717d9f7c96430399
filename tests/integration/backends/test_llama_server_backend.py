"""A real llama-cpp-python server process (SmolLM2-135M GGUF) spoken to through the ``llamacpp`` preset."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from smallfirst.backends.embedded import default_model_path
from tests.fakes.llama_server import llama_server
from tests.integration.backends.util import MakeBackend, chat, collect, text_of

pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server] (the [embedded] extra)")
pytestmark = [pytest.mark.anyio, pytest.mark.slow]
ALIAS = "smollm2-135m"


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with llama_server(default_model_path(), alias=ALIAS, n_ctx=1024, n_threads=1) as url:
        yield url


async def test_complete(make: MakeBackend, server_url: str) -> None:
    b = make(backend="llamacpp", model=ALIAS, base_url=server_url)
    r = await b.complete(chat("Name three primary colors.", temperature=0, max_tokens=40))
    assert "red" in r.content.lower()
    assert r.finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0


async def test_stream(make: MakeBackend, server_url: str) -> None:
    b = make(backend="llamacpp", model=ALIAS, base_url=server_url)
    chunks = await collect(b, chat("Name three primary colors.", temperature=0, max_tokens=40))
    assert "red" in text_of(chunks).lower()
    assert chunks[-1].finish_reason in ("stop", "length")
    assert all(c.finish_reason is None for c in chunks[:-1])


async def test_json_schema(make: MakeBackend, server_url: str) -> None:
    b = make(backend="llamacpp", model=ALIAS, base_url=server_url)
    schema = {"type": "object", "properties": {"label": {"enum": ["simple", "complex"]}}, "required": ["label"]}
    rf = {"type": "json_schema", "json_schema": {"name": "route", "schema": schema}}
    r = await b.complete(chat("Is adding 2 and 2 simple or complex?", response_format=rf, temperature=0,
                              max_tokens=30))
    assert json.loads(r.content)["label"] in ("simple", "complex")


async def test_health(make: MakeBackend, server_url: str) -> None:
    h = await make(backend="llamacpp", model=ALIAS, base_url=server_url).health()
    assert h["ok"] is True and h["model_listed"] is True
