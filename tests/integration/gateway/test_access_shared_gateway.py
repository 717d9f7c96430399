"""Two gateway replicas with ``[access] shared = true`` on one real PostgreSQL: keys, budgets, limits."""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from smallfirst.access import Limits
from smallfirst.access.pgstore import PgKeyStore
from smallfirst.cli.main import main as cli
from tests.helpers import postgres
from tests.integration.gateway.conftest import GatewayFactory

LONG = " ".join(["word"] * 400)
MSG = [{"role": "user", "content": "hello there"}]


def config(url: str) -> dict[str, Any]:
    return {"access": {"shared": True, "refresh_ms": 50}, "log": {"url": url}, "tiers": [
        {"name": "local", "endpoints": [{"backend": "fake", "model": "echo?latency_ms=5"}]},
        {"name": "frontier", "endpoints": [{"backend": "fake", "model": f"echo?latency_ms=100&reply={LONG}",
                                            "name": "front", "location": "us",
                                            "price_input_per_mtok": 10.0, "price_output_per_mtok": 30.0}]},
    ]}


def new_key(url: str, name: str = "alice", **limits: Any) -> tuple[str, str]:
    store = PgKeyStore(url)
    try:
        key, info = store.create(name, Limits(**limits))
    finally:
        store.close()
    return key, info.id


def known(urls: list[str], key: str) -> None:
    """Wait until every replica loaded ``key`` (they poll the key table every refresh_ms)."""
    deadline = time.monotonic() + 5
    for u in urls:
        while httpx.get(u + "/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code != 200:
            assert time.monotonic() < deadline, "a replica never loaded the new key"
            time.sleep(0.01)


async def burst(urls: list[str], key: str, n: int, **body: Any) -> list[httpx.Response]:
    """``n`` racing requests, spread over the replicas round-robin."""
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=n)) as c:
        return list(await asyncio.gather(*(
            c.post(urls[i % len(urls)] + "/v1/chat/completions",
                   json={"model": "smallfirst/auto", "messages": MSG, **body},
                   headers={"Authorization": f"Bearer {key}"}) for i in range(n))))


@pytest.mark.slow
def test_two_replicas_share_keys_budgets_and_rate_limits(gateway: GatewayFactory, pg_cluster: str,
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = postgres.fresh_database(pg_cluster)
    toml = tmp_path / "smallfirst.toml"
    toml.write_text(f'[log]\nurl = "{url}"\n[access]\nshared = true\n'
                    '[[tiers]]\nname = "frontier"\n[[tiers.endpoints]]\nbackend = "fake"\nmodel = "echo"\n')
    with ExitStack() as stack:
        (u1, app1), (u2, _) = (stack.enter_context(gateway(config(url))) for _ in range(2))
        # a key made by the CLI on the shared table works on both replicas, through the openai SDK
        assert cli(["keys", "create", "alice", "--config", str(toml)]) == 0
        out = capsys.readouterr().out.splitlines()
        kid, key = out[0].split()[1], out[1]
        known([u1, u2], key)
        for u in (u1, u2):
            client = openai.OpenAI(base_url=u + "/v1", api_key=key, max_retries=0)
            r = client.chat.completions.create(model="smallfirst/local", messages=MSG)  # type: ignore[arg-type]
            assert r.choices[0].message.content == "echo: hello there"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=u2 + "/v1", api_key="sf-nope", max_retries=0).chat.completions.create(
                model="smallfirst/local", messages=MSG)  # type: ignore[arg-type]

        # budget: each frontier answer costs about (4 × 10 + 50 × 30) / 1e6 = $0.00154; $0.0155 fits 10
        budget = 0.0155
        bkey, bid = new_key(url, "bob", budget_day_usd=budget, tiers=("frontier",))
        known([u1, u2], bkey)
        statuses: list[int] = []
        for _ in range(3):  # three waves of 12 racing requests, split over both replicas
            statuses += [r.status_code for r in asyncio.run(burst([u1, u2], bkey, 12, max_tokens=50))]
        assert statuses.count(200) == 10 and statuses.count(429) == 26
        over = httpx.post(u2 + "/v1/chat/completions", json={"model": "smallfirst/auto", "messages": MSG,
                                                             "max_tokens": 50},
                          headers={"Authorization": f"Bearer {bkey}"}, timeout=10)
        assert over.status_code == 429 and over.json()["error"]["code"] == "budget_exceeded"
        assert int(over.headers["retry-after"]) > 0
        app1.pipeline.store.flush()
        spent = sum(r.cost_usd for r in app1.pipeline.store.query() if r.api_key_id == bid)
        assert 0.0145 < spent <= budget  # logged by both replicas into the one log: never more than the budget

        # rate limit: 5 requests per minute for the key, counted across both replicas
        rkey, _ = new_key(url, "carol", rpm=5)
        known([u1, u2], rkey)
        rs = asyncio.run(burst([u1, u2], rkey, 12, model="smallfirst/local"))
        limited = [r for r in rs if r.status_code == 429]
        assert sum(r.status_code == 200 for r in rs) == 5 and len(limited) == 7
        err = limited[0].json()["error"]
        assert err["code"] == "rate_limit_exceeded" and "limit of 5 requests per minute" in err["message"]
        assert int(limited[0].headers["retry-after"]) >= 1

        # revocation through the CLI reaches both replicas within the refresh interval
        assert cli(["keys", "revoke", kid, "--config", str(toml)]) == 0
        t0 = time.monotonic()
        for u in (u1, u2):
            client = openai.OpenAI(base_url=u + "/v1", api_key=key, max_retries=0)
            with pytest.raises(openai.AuthenticationError, match="not valid"):
                while time.monotonic() - t0 < 3.0:  # refresh_ms is 50: generous slack for a loaded CI machine
                    client.chat.completions.create(model="smallfirst/local", messages=MSG)  # type: ignore[arg-type]


@pytest.mark.slow
def test_unreachable_postgres_gets_an_openai_shaped_503(gateway: GatewayFactory) -> None:
    if postgres.bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    with postgres.running_cluster() as pg:
        url = postgres.fresh_database(pg.url)
        key, _ = new_key(url, budget_day_usd=1.0)
        with gateway(config(url)) as (u, _):
            known([u], key)
            pg.stop()
            try:
                r = httpx.post(u + "/v1/chat/completions", json={"model": "smallfirst/local", "messages": MSG},
                               headers={"Authorization": f"Bearer {key}"}, timeout=10)
            finally:
                pg.start()  # so the request log can flush at shutdown
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        err = r.json()["error"]
        assert set(err) == {"message", "type", "param", "code"} and err["code"] == "access_store_unavailable"
        assert "PostgreSQL (postgresql://smallfirst@127.0.0.1:" in err["message"] and "unreachable" in err["message"]
