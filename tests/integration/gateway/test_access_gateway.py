"""Gateway API keys end to end: 401, revocation by the CLI, rate limits and budgets under concurrency."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from smallfirst.access import KeyStore, Limits
from smallfirst.cli.main import main as cli
from tests.integration.gateway.conftest import GatewayFactory, reopen_log

# frontier: $10/M input, $30/M output; its answer is exactly max_tokens words (the fake's fixed reply is long)
LONG = " ".join(["word"] * 400)
TIERS: dict[str, Any] = {"access": {"refresh_ms": 0}, "tiers": [
    {"name": "local", "endpoints": [{"backend": "fake", "model": "echo?latency_ms=5"}]},
    {"name": "frontier", "endpoints": [{"backend": "fake", "model": f"echo?latency_ms=150&reply={LONG}",
                                        "name": "front", "location": "us",
                                        "price_input_per_mtok": 10.0, "price_output_per_mtok": 30.0}]},
]}
MSG = [{"role": "user", "content": "hello there"}]


def new_key(tmp_path: Path, name: str = "alice", **limits: Any) -> tuple[str, str]:
    store = KeyStore(str(tmp_path / "log.db"))
    key, info = store.create(name, Limits(**limits))
    store.close()
    return key, info.id


def post(url: str, key: str | None, **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(url + "/v1/chat/completions", json={"model": "smallfirst/auto", "messages": MSG, **body},
                      headers=headers, timeout=10)


async def burst(url: str, key: str, n: int, **body: Any) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=n)) as c:
        return list(await asyncio.gather(*(
            c.post(url + "/v1/chat/completions", json={"model": "smallfirst/auto", "messages": MSG, **body},
                   headers={"Authorization": f"Bearer {key}"}) for _ in range(n))))


def assert_openai_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["code"] == code
    return err


def test_open_without_keys_then_locked_once_a_key_exists(gateway: GatewayFactory, tmp_path: Path) -> None:
    with gateway(TIERS) as (url, _):
        assert post(url, None).status_code == 200
        key, kid = new_key(tmp_path)
        err = assert_openai_error(post(url, None), 401, "invalid_api_key")
        assert "Authorization: Bearer" in err["message"]
        assert_openai_error(post(url, "sf-not-a-key"), 401, "invalid_api_key")
        assert_openai_error(httpx.get(url + "/v1/models"), 401, "invalid_api_key")
        client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
        r = client.chat.completions.create(model="smallfirst/auto", messages=MSG)  # type: ignore[arg-type]
        assert r.choices[0].message.content == "echo: hello there"
        assert next(m.id for m in client.models.list()) == "smallfirst/auto"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0).chat.completions.create(
                model="smallfirst/auto", messages=MSG)  # type: ignore[arg-type]
    store = reopen_log(tmp_path)
    rows = store.query()
    store.close()
    assert [(r.status, r.api_key_id) for r in rows] == [(200, None), (401, None), (401, None), (200, kid),
                                                         (401, None)]


def test_revocation_by_the_cli_applies_to_the_next_request(gateway: GatewayFactory, tmp_path: Path) -> None:
    key, kid = new_key(tmp_path)
    with gateway(TIERS) as (url, _):
        assert post(url, key).status_code == 200
        assert cli(["keys", "revoke", kid, "--db", str(tmp_path / "log.db")]) == 0
        assert_openai_error(post(url, key), 401, "invalid_api_key")


def test_revocation_with_the_default_refresh_interval(gateway: GatewayFactory, tmp_path: Path) -> None:
    key, kid = new_key(tmp_path)
    with gateway({**TIERS, "access": {}}) as (url, _), httpx.Client(timeout=10) as c:
        assert post(url, key).status_code == 200
        assert cli(["keys", "revoke", kid, "--db", str(tmp_path / "log.db")]) == 0
        t0 = time.monotonic()
        while c.post(url + "/v1/chat/completions", json={"model": "smallfirst/auto", "messages": MSG},
                     headers={"Authorization": f"Bearer {key}"}).status_code == 200:
            # the default refresh is 50 ms; the bound leaves slack for a loaded 2-core CI machine
            assert time.monotonic() - t0 < 2.0, "revoked key still accepted after 2 s"


def test_rate_limit_under_concurrency(gateway: GatewayFactory, tmp_path: Path) -> None:
    key, _ = new_key(tmp_path, rpm=5)
    with gateway(TIERS) as (url, _):
        rs = asyncio.run(burst(url, key, 20, model="smallfirst/local"))
    ok = [r for r in rs if r.status_code == 200]
    limited = [r for r in rs if r.status_code == 429]
    assert len(ok) == 5 and len(limited) == 15
    err = assert_openai_error(limited[0], 429, "rate_limit_exceeded")
    assert "limit of 5 requests per minute" in err["message"]
    assert 1 <= int(limited[0].headers["retry-after"]) <= 12


def test_budget_is_never_overspent_by_racing_requests(gateway: GatewayFactory, tmp_path: Path) -> None:
    # each frontier answer costs about (4 * 10 + 50 * 30) / 1e6 = $0.00154; the budget fits 10 of them
    budget = 0.0155
    key, kid = new_key(tmp_path, budget_day_usd=budget, tiers=("frontier",))
    statuses: list[int] = []
    with gateway(TIERS) as (url, app):
        for _ in range(3):  # three waves of 12 racing requests
            rs = asyncio.run(burst(url, key, 12, max_tokens=50))
            statuses += [r.status_code for r in rs]
        spent = app.access.snapshot()[kid]
        over = post(url, key, max_tokens=50)
    err = assert_openai_error(over, 429, "budget_exceeded")
    assert "daily budget" in err["message"] and int(over.headers["retry-after"]) > 0
    store = reopen_log(tmp_path)
    rows = store.query()
    store.close()
    total = sum(r.cost_usd for r in rows)
    assert 0.0145 < total <= budget  # nearly all of it used, never more
    assert statuses.count(200) == sum(1 for r in rows if r.status == 200) == 10
    assert spent["spent_day"] == pytest.approx(total) and spent["reserved"] == 0.0
    assert {r.status for r in rows} == {200, 429}


def test_budget_spent_keeps_free_local_tier_and_allowed_tiers_hold(gateway: GatewayFactory, tmp_path: Path) -> None:
    key, _ = new_key(tmp_path, budget_day_usd=0.0)
    only_local, _ = new_key(tmp_path, "bob", tiers=("local",))
    with gateway(TIERS) as (url, _):
        r = post(url, key, model="smallfirst/auto")
        assert r.status_code == 200 and r.headers["x-smallfirst-tier"] == "local"
        assert "may not use frontier" in r.headers["x-smallfirst-reason"]
        assert_openai_error(post(url, key, model="smallfirst/frontier"), 429, "budget_exceeded")
        err = assert_openai_error(post(url, only_local, model="smallfirst/frontier"), 403, "permission_denied")
        assert "may not use tier 'frontier'" in err["message"]
        assert post(url, only_local, model="smallfirst/local").status_code == 200
