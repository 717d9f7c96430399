"""Locations that cannot lie, through the real gateway: an endpoint's locality comes from its URL host.

A ``vllm`` endpoint at 10.1.2.3 is remote (its backend name does not make it local), and an
OpenAI-compatible fake on 127.0.0.1 declared ``location = "us"`` (a tunnel to a remote API) is remote
too: sensitive requests are never sent to either, and what the tunnel serves is priced.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.integration.gateway.conftest import GatewayFactory, log_rows

EMAIL = [{"role": "user", "content": "Write to jane.doe@example.com about the invoice"}]
PLAIN = [{"role": "user", "content": "hello"}]


@pytest.fixture
def tunnel() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(model="gpt-4o-mini").in_thread() as srv:
        yield srv


def cfg(tunnel_url: str) -> dict[str, Any]:
    return {"tiers": [
        {"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
        {"name": "mid", "endpoints": [{"backend": "vllm", "model": "qwen", "base_url": "http://10.1.2.3:8000/v1",
                                       "connect_timeout_s": 0.2, "timeout_s": 0.5, "breaker_failures": 0}]},
        {"name": "frontier", "endpoints": [{"backend": "openai_compat", "model": "gpt-4o-mini",
                                            "base_url": tunnel_url, "location": "us"}]},
    ]}


def post(url: str, messages: list[dict[str, str]], model: str) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json={"model": model, "messages": messages}, timeout=10)


def test_remote_host_and_declared_tunnel_get_no_sensitive_data(gateway: GatewayFactory, tunnel: FakeOpenAI) -> None:
    with gateway(cfg(tunnel.base_url)) as (url, app):
        assert [(e.is_local, e.location) for t in app.pipeline.tiers for e in t.endpoints] == [
            (True, "local"), (False, "remote"), (False, "us")]
        to_vllm = post(url, EMAIL, "smallfirst/mid")
        to_tunnel = post(url, EMAIL, "smallfirst/frontier")
        auto = post(url, EMAIL, "smallfirst/auto")
        plain = post(url, PLAIN, "smallfirst/frontier")
        rows = log_rows(app)
    for blocked in (to_vllm, to_tunnel):  # a tier named in `model` that the policy removed: 403, nothing sent
        assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "policy_blocked", blocked.text
        assert "removed mid (remote), frontier (us)" in blocked.json()["error"]["message"]
    assert auto.status_code == 200 and auto.headers["x-smallfirst-tier"] == "local"
    assert plain.status_code == 200 and plain.headers["x-smallfirst-tier"] == "frontier"
    assert len(tunnel.requests) == 1 and "jane" not in str(tunnel.requests[0].body)  # only the plain request
    served = [r for r in rows if r.tier == "frontier" and r.status == 200]
    assert len(served) == 1 and served[0].cost_usd > 0  # priced from the catalog, not logged as free
    assert [a.location for a in served[0].attempts] == ["us"]
    assert all(a.location == "local" for r in rows if r.sensitive for a in r.attempts)
