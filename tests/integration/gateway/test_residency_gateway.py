"""Fail-closed residency through the real gateway: sensitive requests never reach a remote upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.base import Fault
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.gateway.conftest import GatewayFactory, reopen_log

SECRET_MSG = [{"role": "user", "content": "Email jane.doe@example.com the card 4111 1111 1111 1111 please"}]
PLAIN = [{"role": "user", "content": "hello"}]


@pytest.fixture
def remote() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(model="remote-model").in_thread() as srv:
        yield srv


def cfg(remote_url: str, local_model: str = "echo") -> dict[str, Any]:
    return {"log": {"store_prompts": True}, "tiers": [
        {"name": "local", "endpoints": [{"backend": "fake", "model": local_model}]},
        {"name": "frontier", "endpoints": [{"backend": "openai_compat", "model": "remote-model", "base_url": remote_url,
                                            "location": "us"}]},
    ]}


def post(url: str, messages: list[dict[str, str]], model: str = "smallfirst/auto",
         headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json={"model": model, "messages": messages},
                      headers=headers or {}, timeout=10)


def test_sensitive_request_stays_local_and_text_is_not_logged(gateway: GatewayFactory, remote: FakeOpenAI,
                                                              tmp_path: Path) -> None:
    with gateway(cfg(remote.base_url)) as (url, _):
        r = post(url, SECRET_MSG)
        blocked = post(url, SECRET_MSG, model="smallfirst/frontier")
        pinned_model = post(url, SECRET_MSG, model="remote-model")
    assert r.status_code == 200 and r.headers["x-smallfirst-tier"] == "local"
    assert "residency" in r.headers["x-smallfirst-reason"]
    assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "policy_blocked"
    assert blocked.headers["x-should-retry"] == "false"  # a refusal by configuration: no retry can succeed
    assert pinned_model.status_code == 403
    assert "jane.doe" not in blocked.text and "4111" not in blocked.text
    assert remote.requests == []
    store = reopen_log(tmp_path)
    rows = store.query()
    store.close()
    assert {c for row in rows for c in row.sensitive} >= {"pii", "financial"}
    assert all(row.prompt_text is None and row.response_text is None for row in rows)
    assert all("jane.doe" not in (row.reason or "") for row in rows)


def test_local_failure_does_not_fall_back_off_host(gateway: GatewayFactory, remote: FakeOpenAI) -> None:
    with gateway(cfg(remote.base_url, local_model="echo?fail=unavailable")) as (url, _):
        r = post(url, SECRET_MSG)
        ok = post(url, PLAIN)  # a plain request may escalate
    assert r.status_code == 503 and r.json()["error"]["code"] == "policy_blocked"
    assert r.headers["x-should-retry"] == "false" and r.headers["retry-after"] == "5"  # later, not at once
    assert "upstream_unavailable" in r.json()["error"]["message"]  # names the local failure and the policy
    assert ok.status_code == 200 and ok.headers["x-smallfirst-tier"] == "frontier"
    assert len(remote.requests) == 1 and "jane" not in str(remote.requests[0].body)


def test_header_forces_local(gateway: GatewayFactory, remote: FakeOpenAI) -> None:
    remote.inject(Fault(status=500, times=0))
    with gateway(cfg(remote.base_url)) as (url, _):
        forced = post(url, PLAIN, model="smallfirst/frontier", headers={"x-smallfirst-residency": "local"})
        bad = post(url, PLAIN, headers={"x-smallfirst-residency": "mars base!"})
    assert forced.status_code == 403 and forced.json()["error"]["type"] == "permission_error"
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "x-smallfirst-residency"
    assert remote.requests == []


def test_client_metadata_cannot_claim_a_key_or_headers(gateway: GatewayFactory, remote: FakeOpenAI) -> None:
    with gateway(cfg(remote.base_url)) as (url, _):
        r = httpx.post(url + "/v1/chat/completions", json={
            "model": "smallfirst/frontier", "messages": SECRET_MSG,
            "metadata": {"api_key_id": "admin", "headers": {"x-smallfirst-residency": "auto"}}})
    assert r.status_code == 403
    assert remote.requests == []
