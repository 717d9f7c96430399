"""Fail-closed refusals as the official SDKs see them: the right exception, and no automatic retries.

The openai and anthropic SDKs retry 408/409/429/5xx on their own (2 retries by default) unless the response
carries ``x-should-retry: false``. A refusal by configuration (no tier may take this data class) is a 403
that no retry can change; a refusal after the allowed local tiers failed is a 503 with ``retry-after`` and
``x-should-retry: false``, since immediate retries would hit the same down tier. Every request that reaches
the gateway is logged, so the log counts the SDK's tries.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from smallfirst.server.app import Gateway
from tests.integration.gateway.conftest import GatewayFactory, log_rows

SECRET = "Email jane.doe@example.com the card 4111 1111 1111 1111 please"


def tiers(local_model: str = "echo") -> dict[str, Any]:
    return {"tiers": [
        {"name": "local", "endpoints": [{"backend": "fake", "model": local_model}]},
        {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo?reply=remote", "location": "us"}]},
    ]}


@pytest.fixture
def clients() -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    for c in made:
        c.close()


def sdk_openai(url: str, made: list[Any], **kw: Any) -> openai.OpenAI:
    made.append(openai.OpenAI(base_url=url + "/v1", api_key="unused", **kw))  # default max_retries: 2
    return made[-1]  # type: ignore[no-any-return]


def sdk_anthropic(url: str, made: list[Any], **kw: Any) -> anthropic.Anthropic:
    made.append(anthropic.Anthropic(base_url=url, api_key="unused", **kw))
    return made[-1]  # type: ignore[no-any-return]


def tries(app: Gateway) -> int:
    """Requests that reached the gateway (each is logged once)."""
    return len(log_rows(app))


def test_sdks_retry_a_plain_503_by_default(gateway: GatewayFactory, clients: list[Any]) -> None:
    """The control: the count is real, and the SDKs do retry a 5xx without ``x-should-retry: false``."""
    cfg = {"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo?fail=unavailable"}]}]}
    with gateway(cfg) as (url, app):
        with pytest.raises(openai.InternalServerError):
            sdk_openai(url, clients, max_retries=1).chat.completions.create(
                model="smallfirst/auto", messages=[{"role": "user", "content": "hello"}])
        assert tries(app) == 2


@pytest.mark.parametrize("stream", [False, True])
def test_openai_sdk_gets_permission_denied_once_for_a_refusal_by_configuration(
        gateway: GatewayFactory, clients: list[Any], stream: bool) -> None:
    with gateway(tiers()) as (url, app):
        with pytest.raises(openai.PermissionDeniedError) as info:
            sdk_openai(url, clients).chat.completions.create(
                model="smallfirst/frontier", messages=[{"role": "user", "content": SECRET}], stream=stream)
        rows = log_rows(app)
    err = info.value
    assert err.status_code == 403 and err.response.headers["x-should-retry"] == "false"
    assert isinstance(err.body, dict) and err.body["type"] == "permission_error"
    assert err.body["code"] == "policy_blocked" and "residency" in err.body["message"]
    assert "jane.doe" not in err.response.text and "4111" not in err.response.text
    assert [(r.status, r.error_code) for r in rows] == [(403, "policy_blocked")]  # one request, no retry


def test_anthropic_sdk_gets_permission_denied_once_for_a_refusal_by_configuration(
        gateway: GatewayFactory, clients: list[Any]) -> None:
    with gateway(tiers()) as (url, app):
        with pytest.raises(anthropic.PermissionDeniedError) as info:
            sdk_anthropic(url, clients).messages.create(
                model="smallfirst/frontier", max_tokens=16, messages=[{"role": "user", "content": SECRET}])
        rows = log_rows(app)
    err = info.value
    assert err.status_code == 403 and err.response.headers["x-should-retry"] == "false"
    assert isinstance(err.body, dict) and err.body["type"] == "error"
    assert err.body["error"]["type"] == "permission_error" and "residency" in err.body["error"]["message"]
    assert err.request_id is not None and err.response.headers["request-id"] == err.request_id
    assert [r.status for r in rows] == [403]


def test_openai_sdk_gets_one_503_when_the_local_tier_is_down(gateway: GatewayFactory, clients: list[Any]) -> None:
    with gateway(tiers("echo?fail=unavailable")) as (url, app):
        with pytest.raises(openai.InternalServerError) as info:
            sdk_openai(url, clients).chat.completions.create(
                model="smallfirst/auto", messages=[{"role": "user", "content": SECRET}])
        rows = log_rows(app)
    err = info.value
    assert err.status_code == 503, err.response.text
    assert err.response.headers["x-should-retry"] == "false" and int(err.response.headers["retry-after"]) >= 1
    assert isinstance(err.body, dict) and err.body["code"] == "policy_blocked" and "fail closed" in err.body["message"]
    assert [(r.status, [a.location for a in r.attempts]) for r in rows] == [(503, ["local"])]


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_sdk_gets_one_503_when_the_local_tier_is_down(gateway: GatewayFactory, clients: list[Any],
                                                                stream: bool) -> None:
    with gateway(tiers("echo?fail=unavailable")) as (url, app):
        with pytest.raises(anthropic.InternalServerError) as info:
            sdk_anthropic(url, clients).messages.create(
                model="smallfirst/auto", max_tokens=16, messages=[{"role": "user", "content": SECRET}],
                stream=stream)
        rows = log_rows(app)
    err = info.value
    assert err.status_code == 503, err.response.text
    assert err.response.headers["x-should-retry"] == "false" and int(err.response.headers["retry-after"]) >= 1
    assert isinstance(err.body, dict) and err.body["error"]["type"] == "overloaded_error"
    assert [r.status for r in rows] == [503]


def test_every_error_on_the_messages_route_is_anthropic_shaped(gateway: GatewayFactory) -> None:
    with gateway(tiers()) as (url, _):
        wrong_method = httpx.get(url + "/v1/messages", timeout=10)
        unknown = httpx.post(url + "/v1/messages/batches", json={}, timeout=10)  # Message Batches: not served
        invalid = httpx.post(url + "/v1/messages", json={"model": "smallfirst/auto", "messages": []}, timeout=10)
    for r, status, etype in ((wrong_method, 405, "invalid_request_error"), (unknown, 404, "not_found_error"),
                             (invalid, 400, "invalid_request_error")):
        body = r.json()
        assert r.status_code == status and body["type"] == "error" and body["error"]["type"] == etype, r.text
        assert r.headers["x-should-retry"] == "false"
    assert invalid.headers["request-id"] == invalid.json()["request_id"]
