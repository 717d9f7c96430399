"""One gateway, every wire protocol behind it: Ollama native, Anthropic Messages and OpenAI-compatible fakes
on 127.0.0.1, a balanced tier, and an ordered chain that falls back across protocols."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.base import Fault
from tests.fakes.ollama_server import FakeOllama
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.gateway.conftest import GatewayFactory, reopen_log

MSG = [{"role": "user", "content": "ping"}]


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeOllama, FakeAnthropic, FakeOpenAI]]:
    monkeypatch.setenv("SF_TEST_ANTHROPIC_KEY", "sk-ant-test-key")
    with FakeOllama(model="qwen2.5:7b").in_thread() as ol, \
            FakeAnthropic(model="claude-test", api_key="sk-ant-test-key").in_thread() as an, \
            FakeOpenAI(model="gpt-test").in_thread() as oa:
        yield ol, an, oa


def test_balanced_tier_spreads_across_ollama_and_anthropic(gateway: GatewayFactory, tmp_path: Path,
                                                           servers: tuple[FakeOllama, FakeAnthropic, FakeOpenAI]
                                                           ) -> None:
    ol, an, _ = servers
    cfg = {"tiers": [{"name": "local", "strategy": "balanced", "endpoints": [
        {"backend": "ollama_native", "model": "qwen2.5:7b", "base_url": ol.url},
        {"backend": "anthropic", "model": "claude-test", "base_url": an.url, "api_key_env": "SF_TEST_ANTHROPIC_KEY",
         "location": "local"},
    ]}]}
    with gateway(cfg) as (url, _):
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        answers = [client.chat.completions.create(model="smallfirst/auto", messages=MSG) for _ in range(4)]  # type: ignore[arg-type]
        streamed = [list(client.chat.completions.create(model="smallfirst/auto", messages=MSG, stream=True,  # type: ignore[arg-type]
                                                         stream_options={"include_usage": True})) for _ in range(2)]
    assert all(a.choices[0].message.content == "echo: ping" for a in answers)
    for chunks in streamed:
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: ping"
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    store = reopen_log(tmp_path)
    rows = store.query()
    store.close()
    assert Counter(r.model for r in rows) == {"qwen2.5:7b": 3, "claude-test": 3}
    assert all(r.prompt_tokens > 0 for r in rows)
    assert len([r for r in an.requests if r.path.endswith("/messages")]) == 3
    assert len([r for r in ol.requests if r.path == "/api/chat"]) == 3


def test_chain_falls_back_across_protocols(gateway: GatewayFactory, tmp_path: Path,
                                           servers: tuple[FakeOllama, FakeAnthropic, FakeOpenAI]) -> None:
    ol, an, oa = servers
    ol.inject(Fault(status=500))
    an.inject(Fault(status=529))
    cfg = {"tiers": [
        {"name": "local", "endpoints": [{"backend": "ollama_native", "model": "qwen2.5:7b", "base_url": ol.url}]},
        {"name": "mid", "endpoints": [{"backend": "anthropic", "model": "claude-test", "base_url": an.url,
                                       "api_key_env": "SF_TEST_ANTHROPIC_KEY"}]},
        {"name": "frontier", "endpoints": [{"backend": "openai", "model": "gpt-test", "base_url": oa.base_url,
                                            "api_key_env": "SF_TEST_ANTHROPIC_KEY"}]},
    ]}
    with gateway(cfg) as (url, _):
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=MSG)  # type: ignore[arg-type]
    assert raw.headers["x-smallfirst-tier"] == "frontier"
    assert raw.headers["x-smallfirst-escalations"] == "local->mid,mid->frontier"
    assert float(raw.headers["x-smallfirst-cost-usd"]) == 0.0  # gpt-test has no catalog price
    store = reopen_log(tmp_path)
    (row,) = store.query()
    store.close()
    assert [a.endpoint for a in row.attempts] == ["ollama_native:qwen2.5:7b", "anthropic:claude-test",
                                                  "openai:gpt-test"]
    assert row.attempts[-1].outcome == "ok"
