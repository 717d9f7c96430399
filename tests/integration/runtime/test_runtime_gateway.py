"""Routing by the local runtime's state through the real gateway (uvicorn on 127.0.0.1), driven by the openai SDK:
a cold Ollama model (the fake's /api/ps) escalates a request with a latency budget, a sensitive one waits or
fails closed, capabilities learnt from /api/show route an image locally; /healthz and /metrics show the state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.ollama_server import FakeOllama
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.gateway.conftest import GatewayFactory, gateway  # noqa: F401

MSG = [{"role": "user", "content": "ping"}]
SECRET = [{"role": "user", "content": "Email jane.doe@example.com the card 4111 1111 1111 1111 please"}]
BUDGET = {"x-smallfirst-max-latency-ms": "500"}
PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJ"
       "RU5ErkJggg==")


@pytest.fixture
def servers() -> Iterator[tuple[FakeOllama, FakeOpenAI]]:
    with FakeOllama(model="llama3.2:latest", capabilities=("completion", "vision")).in_thread() as ol, \
            FakeOpenAI(model="cloud").in_thread() as oa:
        yield ol, oa


def cfg(ol: FakeOllama, oa: FakeOpenAI, **routing: Any) -> dict[str, Any]:
    return {"routing": {"warm": "free", "runtime_poll_s": 0, **routing}, "tiers": [
        {"name": "local", "endpoints": [{"backend": "ollama_native", "model": "llama3.2", "base_url": ol.url}]},
        {"name": "frontier", "endpoints": [{"backend": "openai_compat", "model": "cloud", "base_url": oa.base_url,
                                            "location": "us"}]}]}


def chat(client: openai.OpenAI, messages: list[dict[str, Any]], headers: dict[str, str] | None = None) -> Any:
    return client.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=messages,  # type: ignore[arg-type]
                                                            extra_headers=headers or {})


def test_cold_model_escalates_within_budget_and_learns_the_load(gateway: GatewayFactory,  # noqa: F811
                                                                servers: tuple[FakeOllama, FakeOpenAI]) -> None:
    ol, oa = servers
    with gateway(cfg(ol, oa)) as (url, _):
        health = httpx.get(url + "/healthz", timeout=10).json()  # polls on demand
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        fast = chat(client, MSG, BUDGET)
        secret = chat(client, SECRET, BUDGET)
        plain = chat(client, MSG)  # no budget: served by the cold local model, which loads it
        after = chat(client, MSG, BUDGET)  # the load was observed: the model counts as loaded now
        metrics = httpx.get(url + "/metrics", timeout=10).text
    (local,) = [b for b in health["backends"] if b["tier"] == "local"]
    rt = local["runtime"]
    assert rt["runtime"] == "ollama" and rt["reachable"] and rt["loaded"] is False and rt["images"] is True
    assert rt["estimated_load_ms"] == pytest.approx(2019.4, abs=0.1) and rt["size_bytes"] == 2019393189
    assert fast.headers["x-smallfirst-tier"] == "frontier"
    assert "latency budget 500 ms: skipped local" in fast.headers["x-smallfirst-reason"]
    assert secret.headers["x-smallfirst-tier"] == "local"
    assert "waits locally" in secret.headers["x-smallfirst-reason"]
    assert plain.headers["x-smallfirst-tier"] == "local"
    assert after.headers["x-smallfirst-tier"] == "local"
    assert "latency budget" not in after.headers["x-smallfirst-reason"]
    assert 'smallfirst_runtime_reachable{endpoint="ollama_native:llama3.2",runtime="ollama"} 1.0' in metrics
    assert 'smallfirst_runtime_model_loaded{endpoint="ollama_native:llama3.2",runtime="ollama"}' in metrics
    assert len([r for r in oa.requests if r.path == "/v1/chat/completions"]) == 1  # only the budgeted plain one


def test_sensitive_fails_closed_with_the_reason(gateway: GatewayFactory,  # noqa: F811
                                                servers: tuple[FakeOllama, FakeOpenAI]) -> None:
    ol, oa = servers
    with gateway(cfg(ol, oa, over_budget_sensitive="fail", max_latency_ms=500)) as (url, _):
        httpx.get(url + "/healthz", timeout=10)
        r = httpx.post(url + "/v1/chat/completions", json={"model": "smallfirst/auto", "messages": SECRET},
                       timeout=10)
    assert r.status_code == 503 and r.json()["error"]["code"] == "latency_budget"
    assert "may not leave" in r.headers["x-smallfirst-reason"] and r.headers["x-should-retry"] == "false"
    assert "jane.doe" not in r.text and not [q for q in oa.requests if q.path == "/v1/chat/completions"]


def test_runtime_capabilities_route_an_image_locally(gateway: GatewayFactory,  # noqa: F811
                                                     servers: tuple[FakeOllama, FakeOpenAI]) -> None:
    ol, _ = servers
    one = {"routing": {"warm": "keep", "runtime_poll_s": 0}, "tiers": [
        {"name": "local", "endpoints": [{"backend": "ollama_native", "model": "llama3.2", "base_url": ol.url}]}]}
    with gateway(one) as (url, _):
        health = httpx.get(url + "/healthz", timeout=10).json()
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        image = [{"role": "user", "content": [{"type": "text", "text": "what is it"},
                                              {"type": "image_url", "image_url": {"url": PNG}}]}]
        r = chat(client, image)
    assert health["backends"][0]["runtime"]["loaded"] is True  # warm = "keep" pre-loaded it at start-up
    assert r.headers["x-smallfirst-tier"] == "local"
    (sent,) = [q.body for q in ol.requests if q.path == "/api/chat"]
    assert sent["keep_alive"] == -1 and sent["messages"][0]["images"]
