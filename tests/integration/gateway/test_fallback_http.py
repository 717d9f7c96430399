"""Fallback through real HTTP upstreams: the protocol-faithful fake OpenAI server with injected faults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.base import Fault
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.gateway import free_port
from tests.integration.gateway.conftest import GatewayFactory, reopen_log

MSG = [{"role": "user", "content": "ping"}]


@pytest.fixture
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(model="up-model").in_thread() as srv:
        yield srv


def two_tiers(base_url: str, timeout_s: float = 5.0) -> dict[str, Any]:
    return {"tiers": [
        {"name": "local", "endpoints": [{"backend": "openai_compat", "model": "up-model", "base_url": base_url,
                                         "timeout_s": timeout_s, "location": "local"}]},
        {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo?reply=rescued", "location": "us"}]},
    ]}


def test_upstream_answers_through_gateway(gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    with gateway(two_tiers(upstream.base_url)) as (url, _):
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        r = client.chat.completions.create(model="smallfirst/auto", messages=MSG)  # type: ignore[arg-type]
        s = list(client.chat.completions.create(model="smallfirst/auto", messages=MSG, stream=True,  # type: ignore[arg-type]
                                                stream_options={"include_usage": True}))
    assert r.choices[0].message.content == "echo: ping"
    assert "".join(c.choices[0].delta.content or "" for c in s if c.choices) == "echo: ping"
    assert s[-1].usage is not None and s[-1].usage.prompt_tokens > 0
    assert upstream.requests[-1].body["model"] == "up-model"


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [
        (Fault(status=500), "upstream_error"),
        (Fault(status=503), "upstream_unavailable"),
        (Fault(status=429, retry_after="3"), "upstream_rate_limited"),
        (Fault(delay_s=3.0), "upstream_timeout"),
        (Fault(drop=True), "upstream_unavailable"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_fault_falls_back_up_the_chain(gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path,
                                       fault: Fault, outcome: str, stream: bool) -> None:
    upstream.inject(fault)
    with gateway(two_tiers(upstream.base_url, timeout_s=1.0)) as (url, _):
        r = httpx.post(url + "/v1/chat/completions", json={"model": "smallfirst/auto", "messages": MSG,
                                                            "stream": stream}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["x-smallfirst-tier"] == "frontier"
    assert r.headers["x-smallfirst-escalations"] == "local->frontier"
    assert "rescued" in r.text
    store = reopen_log(tmp_path)
    (row,) = store.query()
    store.close()
    assert [a.outcome for a in row.attempts] == [outcome, "ok"], row.attempts
    assert row.tier == "frontier" and row.status == 200


def test_upstream_down_connection_refused(gateway: GatewayFactory, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with gateway(two_tiers(dead)) as (url, _):
        r = httpx.post(url + "/v1/chat/completions", json={"model": "smallfirst/auto", "messages": MSG})
    assert r.status_code == 200 and r.headers["x-smallfirst-tier"] == "frontier"
    store = reopen_log(tmp_path)
    (row,) = store.query()
    store.close()
    assert row.attempts[0].outcome == "upstream_unavailable"


def test_pinned_tier_failure_is_an_openai_error_not_a_500(gateway: GatewayFactory, upstream: FakeOpenAI,
                                                           tmp_path: Path) -> None:
    upstream.inject(Fault(status=429, retry_after="7"))
    with gateway(two_tiers(upstream.base_url)) as (url, _):
        r = httpx.post(url + "/v1/chat/completions", json={"model": "smallfirst/local", "messages": MSG})
    assert r.status_code == 429
    assert r.headers["retry-after"] == "7"
    assert r.json()["error"]["code"] == "upstream_rate_limited"
    store = reopen_log(tmp_path)
    (row,) = store.query()
    store.close()
    assert row.status == 429 and row.tier is None


def test_cut_mid_stream_after_first_byte(gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path) -> None:
    upstream.inject(Fault(cut_after=2))
    with gateway(two_tiers(upstream.base_url)) as (url, _), httpx.stream(
        "POST", url + "/v1/chat/completions", json={"model": "smallfirst/auto", "messages": MSG, "stream": True}
    ) as r:
        events = [line for line in r.iter_lines() if line]
    assert r.headers["x-smallfirst-tier"] == "local"  # committed before the cut
    assert '"error"' in events[-1]
    store = reopen_log(tmp_path)
    (row,) = store.query()
    store.close()
    assert row.status == 502 and row.attempts[-1].outcome == "upstream_stream_interrupted"
