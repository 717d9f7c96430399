"""Fault injection through real HTTP upstreams: retries, breaker, timeouts, cut and slow streams, disconnects."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from smallfirst.store.sqlite import SQLiteStore
from tests.fakes.base import Fault
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.gateway import free_port
from tests.integration.gateway.conftest import GatewayFactory, log_rows, reopen_log

MSG = [{"role": "user", "content": "ping"}]


@pytest.fixture
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(model="up-model", reply="one two three four five six").in_thread() as srv:
        yield srv


def tiers(base_url: str, **local: Any) -> dict[str, Any]:
    ep = {"backend": "openai_compat", "model": "up-model", "base_url": base_url, "timeout_s": 5.0,
          "location": "local", **local}
    return {"tiers": [
        {"name": "local", "endpoints": [ep]},
        {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo?reply=rescued", "location": "us"}]},
    ]}


def chat(url: str, stream: bool = False, model: str = "smallfirst/auto", timeout: float = 10) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json={"model": model, "messages": MSG, "stream": stream},
                      timeout=timeout)


def chats(upstream: FakeOpenAI) -> int:
    """Chat requests the upstream received (the gateway may also probe GET /v1/models)."""
    return sum(1 for r in upstream.requests if r.path.endswith("/chat/completions"))


def only_row(tmp_path: Path) -> Any:
    store = reopen_log(tmp_path)
    (row,) = store.query()
    store.close()
    return row


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("fault", [Fault(status=500), Fault(status=503), Fault(drop=True),
                                   Fault(status=429, retry_after="0")])
def test_transient_fault_is_retried_on_the_same_endpoint(gateway: GatewayFactory, upstream: FakeOpenAI,
                                                         tmp_path: Path, fault: Fault, stream: bool) -> None:
    upstream.inject(replace(fault))  # a copy: the fake counts a fault's uses down on the object
    with gateway(tiers(upstream.base_url, retries=1)) as (url, _):
        r = chat(url, stream)
        metrics = httpx.get(url + "/metrics").text
    assert r.status_code == 200 and r.headers["x-smallfirst-tier"] == "local", r.text
    assert "six" in r.text and chats(upstream) == 2
    assert 'smallfirst_upstream_retries_total{endpoint="openai_compat:up-model",tier="local"} 1.0' in metrics
    assert only_row(tmp_path).attempts[-1].outcome == "ok"


def test_long_retry_after_is_not_waited_for(gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path) -> None:
    upstream.inject(Fault(status=429, retry_after="60"))
    with gateway(tiers(upstream.base_url, retries=3)) as (url, _):
        t0 = time.monotonic()
        r = chat(url)
    assert time.monotonic() - t0 < 2.0
    assert r.status_code == 200 and r.headers["x-smallfirst-tier"] == "frontier" and chats(upstream) == 1
    assert [a.outcome for a in only_row(tmp_path).attempts] == ["upstream_rate_limited", "ok"]


def test_pinned_429_passes_retry_after_to_the_client(gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    upstream.inject(Fault(status=429, retry_after="9"))
    with gateway(tiers(upstream.base_url)) as (url, _):
        r = chat(url, model="smallfirst/local")
    assert r.status_code == 429 and r.headers["retry-after"] == "9"
    assert r.json()["error"]["code"] == "upstream_rate_limited"


def test_connection_refused_opens_the_breaker_visible_in_healthz_and_metrics(
        gateway: GatewayFactory, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with gateway(tiers(dead, breaker_failures=2, breaker_cooldown_s=60)) as (url, app):
        for _ in range(4):
            assert chat(url).headers["x-smallfirst-tier"] == "frontier"
        health = httpx.get(url + "/healthz")
        metrics = httpx.get(url + "/metrics").text
        pinned = chat(url, model="smallfirst/local")
        rows = log_rows(app)
    assert [r.attempts[0].outcome for r in rows[:4]] == ["upstream_unavailable"] * 2 + ["circuit_open"] * 2
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    local = health.json()["backends"][0]
    assert local["ok"] is False and local["breaker"]["state"] == "open" and local["breaker"]["opened_total"] == 1
    assert 'smallfirst_circuit_state{endpoint="openai_compat:up-model",tier="local"} 2.0' in metrics
    assert 'smallfirst_circuit_refused_total{endpoint="openai_compat:up-model",tier="local"} 2.0' in metrics
    assert pinned.status_code == 503 and pinned.json()["error"]["code"] == "circuit_open"
    assert 50 <= int(pinned.headers["retry-after"]) <= 60


def test_breaker_half_open_probe_recovers(gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    upstream.inject(Fault(status=503, times=2))
    with gateway(tiers(upstream.base_url, breaker_failures=2, breaker_cooldown_s=0.5)) as (url, _):
        assert [chat(url).headers["x-smallfirst-tier"] for _ in range(3)] == ["frontier"] * 3
        assert chats(upstream) == 2  # the third request did not reach the open endpoint
        time.sleep(0.6)
        probe = chat(url)
        after = httpx.get(url + "/healthz").json()["backends"][0]["breaker"]
    assert probe.headers["x-smallfirst-tier"] == "local" and "six" in probe.text
    assert after["state"] == "closed" and after["opened_total"] == 1


def test_timeout_before_first_byte_falls_back_quickly(gateway: GatewayFactory, upstream: FakeOpenAI,
                                                      tmp_path: Path) -> None:
    upstream.inject(Fault(delay_s=3.0))
    with gateway(tiers(upstream.base_url, first_token_timeout_s=0.3)) as (url, _):
        t0 = time.monotonic()
        r = chat(url, stream=True)
    assert time.monotonic() - t0 < 2.0
    assert r.status_code == 200 and r.headers["x-smallfirst-tier"] == "frontier" and "rescued" in r.text
    assert [a.outcome for a in only_row(tmp_path).attempts] == ["upstream_timeout", "ok"]


def sse_events(r: httpx.Response) -> list[str]:
    return [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]


def test_reset_mid_stream_ends_with_an_error_event_and_a_row(gateway: GatewayFactory, upstream: FakeOpenAI,
                                                             tmp_path: Path) -> None:
    upstream.inject(Fault(cut_after=3))
    with gateway(tiers(upstream.base_url, retries=2)) as (url, _):
        r = chat(url, stream=True)
    events = sse_events(r)
    assert r.status_code == 200 and '"content":"one ' in events[1]
    assert '"error"' in events[-1] and "[DONE]" not in r.text
    assert chats(upstream) == 1  # never retried once the client has bytes
    row = only_row(tmp_path)
    assert row.status == 502 and row.error_code == "upstream_stream_interrupted"
    assert row.attempts[-1].outcome == "upstream_stream_interrupted"


def test_slow_drip_within_limits_completes(gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path) -> None:
    upstream.inject(Fault(drip_s=0.05))
    with gateway(tiers(upstream.base_url, timeout_s=1.0)) as (url, _):
        r = chat(url, stream=True)
    assert sse_events(r)[-1] == "[DONE]" and only_row(tmp_path).status == 200


@pytest.mark.parametrize("limit", [{"stream_timeout_s": 0.3}, {"timeout_s": 0.2}])
def test_slow_drip_past_the_limit_is_cut_cleanly(gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path,
                                                 limit: dict[str, float]) -> None:
    upstream.inject(Fault(drip_s=0.25))
    with gateway(tiers(upstream.base_url, **limit)) as (url, _):
        r = chat(url, stream=True)
    events = sse_events(r)
    assert r.status_code == 200 and '"error"' in events[-1]
    row = only_row(tmp_path)
    assert row.status == 502 and row.error_code == "upstream_stream_interrupted"


def test_client_disconnects_leave_log_rows(gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path) -> None:
    upstream.inject(Fault(drip_s=0.2, times=1), Fault(delay_s=0.6, times=1))
    with gateway(tiers(upstream.base_url)) as (url, _):
        with httpx.stream("POST", url + "/v1/chat/completions", timeout=10,
                          json={"model": "smallfirst/auto", "messages": MSG, "stream": True}) as r:
            next(r.iter_lines())  # first event, then hang up
        with pytest.raises(httpx.ReadTimeout):
            chat(url, timeout=0.2)  # the client gives up while the upstream is still thinking
        time.sleep(1.0)
    store = SQLiteStore(str(tmp_path / "log.db"))
    rows = store.query()
    store.close()
    assert sorted((r.stream, r.status) for r in rows) == [(False, 200), (True, 499)]
    assert next(r for r in rows if r.stream).attempts[-1].outcome == "client_disconnected"
