"""The semantic cache through the real gateway: the local all-MiniLM-L6-v2 model (from its wheel, offline)
answers a reworded repeat from the cache, and never one with another system prompt or other numbers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.integration.gateway.conftest import GatewayFactory, log_rows
from tests.integration.gateway.test_cache_gateway import cfg, client

pytest.importorskip("sentence_transformers")


@pytest.fixture
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(model="gpt-4o-mini").in_thread() as srv:
        yield srv


def ask(c: openai.OpenAI, text: str, system: str | None = None) -> tuple[str, str | None]:
    msgs: list[Any] = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    raw = c.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=msgs)
    return raw.parse().choices[0].message.content or "", raw.headers.get("x-smallfirst-cache")


def test_a_reworded_repeat_is_a_semantic_hit(gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    with gateway(cfg(upstream, semantic=True)) as (url, app):
        c = client(url)
        first = ask(c, "How many days are there in 3 weeks?")
        again = ask(c, "  how many days are there in 3 weeks  ")
        other_numbers = ask(c, "How many days are there in 4 weeks?")
        other_system = ask(c, "How many days are there in 3 weeks?", system="Answer in French.")
        rows = log_rows(app)
    assert first[1] == "miss" and again == (first[0], "hit")
    assert other_numbers[1] == "miss" and other_system[1] == "miss"
    assert len(upstream.requests) == 3
    assert rows[1].tier == "cache" and "semantic hit" in rows[1].reason and rows[1].cost_usd == 0
