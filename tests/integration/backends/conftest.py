"""Fixtures: fake upstream servers on 127.0.0.1 and backends that are always closed after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from smallfirst.config.registry import backend_factory
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.protocols import Backend
from tests.fakes import FakeAnthropic, FakeOllama, FakeOpenAI
from tests.integration.backends.util import MakeBackend


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def openai_srv() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as srv:
        yield srv


@pytest.fixture
async def ollama_srv() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as srv:
        yield srv


@pytest.fixture
async def anthropic_srv() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic(api_key="sk-ant-test-KEY0123456") as srv:
        yield srv


@pytest.fixture
async def make() -> AsyncIterator[MakeBackend]:
    """``make(backend="llamacpp", model=..., base_url=...)`` → a backend closed at teardown."""
    made: list[Backend] = []

    def build(**cfg: Any) -> Backend:
        b: Backend = backend_factory(cfg["backend"])(EndpointConfig(**cfg))
        made.append(b)
        return b

    yield build
    for b in made:
        await b.aclose()
