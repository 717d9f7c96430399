"""[access] shared = true: two Access instances ("replicas") on one real PostgreSQL database."""

from __future__ import annotations

import asyncio
import calendar
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smallfirst.access import AccessStoreUnavailableError, KeyInfo, Limits, SharedAccess
from smallfirst.access import ledger as shared_ledger
from smallfirst.access.gate import GRANT_MAX_AGE_S
from smallfirst.access.pgstore import PgKeyStore, pg_connect
from smallfirst.cli.main import main as cli
from smallfirst.config.loader import parse
from smallfirst.config.schema import AccessConfig
from smallfirst.core.errors import AuthenticationError, BudgetExceededError, ConfigError, RateLimitError
from smallfirst.core.types import Admission, ChatRequest, RequestRecord
from smallfirst.pipeline import build_tiers

NOON = float(calendar.timegm((2025, 6, 15, 12, 0, 0, 0, 0, 0)))
SETTINGS = parse({"tiers": [
    {"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
    {"name": "frontier", "endpoints": [{"backend": "fake", "model": "f", "location": "us",
                                        "price_input_per_mtok": 10.0, "price_output_per_mtok": 30.0}]},
]})
# a 'hello' request with max_tokens=100 reserves (5/3 + 4) prompt + 100 output tokens
TOKENS = 5 / 3 + 4 + 100
COST = (5 / 3 + 4) * 10e-6 + 100 * 30e-6  # on frontier only

Replicas = Callable[..., tuple[SharedAccess, SharedAccess]]


@pytest.fixture
def replicas(pg_url: str) -> Iterator[Replicas]:
    opened: list[SharedAccess] = []

    def make(clock: Callable[[], float] = lambda: NOON, **cfg: Any) -> tuple[SharedAccess, SharedAccess]:
        for _ in range(2):
            opened.append(SharedAccess(pg_url, build_tiers(SETTINGS), AccessConfig(**{"refresh_ms": 20, **cfg}),
                                       clock=clock))
        return opened[-2], opened[-1]

    yield make
    for a in opened:
        a.close()


def new_key(url: str, name: str = "alice", **limits: Any) -> tuple[str, KeyInfo]:
    store = PgKeyStore(url)
    try:
        return store.create(name, Limits(**limits))
    finally:
        store.close()


def login(access: SharedAccess, key: str, within_s: float = 2.0) -> KeyInfo:
    """Authenticate, waiting out the refresh interval for a key created a moment ago."""
    deadline = time.monotonic() + within_s
    while True:
        try:  # before the refresh: open (None), or refused once another key already made it enforcing
            info = access.authenticate([(b"authorization", f"Bearer {key}".encode())])
        except AuthenticationError:
            if time.monotonic() > deadline:
                raise
            info = None
        if info is not None or time.monotonic() > deadline:
            assert info is not None
            return info
        time.sleep(0.01)


def req(max_tokens: int = 100) -> ChatRequest:
    return ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": "hello"}], body={},
                       max_tokens=max_tokens, headers={})


def record(rid: str, cost: float, tokens: int) -> RequestRecord:
    return RequestRecord(rid, NOON, "smallfirst/auto", "frontier", "f", "frontier", 200, None, "", (), (), tokens, 0,
                         cost, 1.0, None, False)


def settled(access: SharedAccess, kid: str, field: str = "reserved", value: float = 0.0) -> dict[str, float]:
    """The key's snapshot once ``field`` reached ``value`` (settlements run in the background)."""
    deadline = time.monotonic() + 5
    while True:
        snap: dict[str, float] = access.snapshot()[kid]
        if snap[field] == pytest.approx(value, abs=1e-12) or time.monotonic() > deadline:
            return snap
        time.sleep(0.02)


def test_shared_needs_a_postgres_log_url() -> None:
    with pytest.raises(ConfigError, match=r"access\.shared = true .* set log\.url"):
        parse({"access": {"shared": True}})
    assert parse({"access": {"shared": True}, "log": {"url": "postgresql://u@h/db"}}).access.shared


def test_budget_is_not_overspent_by_racing_requests_across_replicas(replicas: Replicas, pg_url: str) -> None:
    a, b = replicas()
    budget = 0.02  # fits 6 reservations of COST
    key, info = new_key(pg_url, budget_day_usd=budget, tiers=("frontier",))
    ka, kb = login(a, key), login(b, key)

    async def race() -> list[BaseException | Admission]:
        calls = [(a if i % 2 else b).admit_async(ka if i % 2 else kb, req(), f"r{i}") for i in range(40)]
        return list(await asyncio.gather(*calls, return_exceptions=True))

    results = asyncio.run(race())
    admitted = [i for i, r in enumerate(results) if isinstance(r, Admission)]
    refused = [r for r in results if not isinstance(r, Admission)]
    assert len(admitted) == int(budget // COST) == 6
    assert all(isinstance(r, BudgetExceededError) for r in refused)
    assert "daily budget" in str(refused[0]) and refused[0].retry_after_s > 0  # type: ignore[attr-defined]
    snap = a.snapshot()[info.id]
    assert snap["reserved"] == pytest.approx(6 * COST) and snap["reserved"] <= budget
    for i in admitted:  # each really cost half its upper bound
        (a if i % 2 else b).observe(record(f"r{i}", COST / 2, 50))
    snap = settled(b, info.id)
    assert snap["spent_day"] == pytest.approx(3 * COST) and snap["spent_month"] == pytest.approx(3 * COST)
    more = sum(1 for i in range(10) if _try(a if i % 2 else b, ka, f"s{i}"))
    assert more == int((budget - 3 * COST) // COST)  # the freed half is usable again, still never more
    store = PgKeyStore(pg_url)
    today, month, n = store.usage("2025-06-15", "2025-06")[info.id]
    assert today == pytest.approx(3 * COST) and month == pytest.approx(3 * COST) and n == 6
    store.close()


def _try(access: SharedAccess, info: KeyInfo, rid: str) -> bool:
    try:
        access.admit(info, req(), rid)
    except BudgetExceededError:
        return False
    return True


def test_keys_cli_works_on_the_shared_table_and_revocation_reaches_the_other_replica(
        replicas: Replicas, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "smallfirst.toml"
    cfg.write_text(f'[log]\nurl = "{pg_url}"\n[access]\nshared = true\n'
                   '[[tiers]]\nname = "local"\n[[tiers.endpoints]]\nbackend = "fake"\nmodel = "echo"\n')
    a, b = replicas(refresh_ms=50)
    assert cli(["keys", "create", "carol", "--rpm", "7", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out.splitlines()
    kid, key = out[0].split()[1], out[1]
    assert login(a, key).limits.rpm == 7 and login(b, key).id == kid
    assert cli(["keys", "list", "--json", "--config", str(cfg)]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [kid]
    assert not (tmp_path / "smallfirst.db").exists()  # nothing went to a SQLite file
    assert cli(["keys", "revoke", kid, "--config", str(cfg)]) == 0
    t0 = time.monotonic()
    with pytest.raises(AuthenticationError, match="not valid"):
        while time.monotonic() - t0 < 2.0:  # refresh_ms is 50; the rest is slack for a loaded CI machine
            b.authenticate([(b"authorization", f"Bearer {key}".encode())])
            time.sleep(0.002)


def test_request_rate_limit_is_shared(replicas: Replicas, pg_url: str) -> None:
    a, b = replicas()
    key, _ = new_key(pg_url, rpm=5)
    ka, kb = login(a, key), login(b, key)
    for i in range(3):
        a.admit(ka, req(), f"a{i}")
    b.admit(kb, req(), "b0")
    b.admit(kb, req(), "b1")
    for acc, k in ((a, ka), (b, kb)):
        with pytest.raises(RateLimitError, match="limit of 5 requests per minute") as err:
            acc.admit(k, req(), "x")
        # the sliding estimate at second 0 of the minute: 5 × (1 − s/60) + 1 ≤ 5 at s = 12 of the next minute
        assert err.value.retry_after_s == pytest.approx(72.0)


def test_token_rate_limit_is_shared_and_settlement_gives_back_unused_tokens(replicas: Replicas, pg_url: str) -> None:
    a, b = replicas()
    key, _ = new_key(pg_url, tpm=1000)
    ka, kb = login(a, key), login(b, key)
    a.admit(ka, req(300), "a0")
    b.admit(kb, req(300), "b0")
    a.admit(ka, req(300), "a1")  # 3 × 305.7 tokens reserved
    with pytest.raises(RateLimitError, match="limit of 1000 tokens per minute"):
        b.admit(kb, req(300), "b1")
    a.observe(record("a0", 0.0, 10))  # it used 10 of its 305.7
    deadline = time.monotonic() + 5
    while True:
        try:
            b.admit(kb, req(300), "b2")
            break
        except RateLimitError:
            assert time.monotonic() < deadline
            time.sleep(0.02)


def test_sliding_window_estimate() -> None:
    # half of the last minute still counts: 4 + 10 × 0.5 + 1 = 10 fits at 30 s, not before
    assert shared_ledger.sliding_wait(4, 10, 1, 10, 20.0) == pytest.approx(10.0)
    assert shared_ledger.sliding_wait(4, 10, 1, 10, 40.0) == 0.0
    # this minute alone is full: wait for the next one, where it weighs in decreasingly
    assert shared_ledger.sliding_wait(10, 0, 1, 10, 15.0) == pytest.approx(45.0 + 6.0)


def test_stale_reservations_are_released_by_the_sweep(replicas: Replicas, pg_url: str) -> None:
    a, _ = replicas()
    key, info = new_key(pg_url, budget_month_usd=1.0, tiers=("frontier",))
    ka = login(a, key)
    a.admit(ka, req(), "crashed")  # never settled: its handler "crashed"
    assert a.snapshot()[info.id]["reserved"] == pytest.approx(COST)
    conn = pg_connect(pg_url)
    try:
        assert shared_ledger.sweep(conn, NOON + 10, GRANT_MAX_AGE_S) == 0
        assert shared_ledger.sweep(conn, NOON + GRANT_MAX_AGE_S + 1, GRANT_MAX_AGE_S) == 1
    finally:
        conn.close()
    assert a.snapshot()[info.id]["reserved"] == 0.0
    a.admit(ka, req(), "live")
    a.observe(record("crashed", COST, 10))  # a late settlement does not release twice
    snap = settled(a, info.id, "spent_month", COST)
    assert snap["reserved"] == pytest.approx(COST) and snap["spent_month"] == pytest.approx(COST)


def test_unlimited_keys_need_no_round_trip_and_their_usage_is_batched(replicas: Replicas, pg_url: str) -> None:
    a, _ = replicas(flush_interval_s=0.05)
    key, info = new_key(pg_url)
    ka = login(a, key)
    out = asyncio.run(a.admit_async(ka, req(), "u0"))
    assert out.key_id == info.id
    a.observe(record("u0", 0.25, 7))
    deadline = time.monotonic() + 5
    store = PgKeyStore(pg_url)
    try:
        while info.id not in store.usage("2025-06-15", "2025-06"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert store.usage("2025-06-15", "2025-06")[info.id] == (0.25, 0.25, 1)
    finally:
        store.close()


@pytest.mark.slow
def test_unreachable_postgres_fails_closed_with_503_then_recovers() -> None:
    from tests.helpers import postgres

    if postgres.bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    with postgres.running_cluster() as pg:
        url = postgres.fresh_database(pg.url)
        access = SharedAccess(url, build_tiers(SETTINGS), AccessConfig(refresh_ms=20))
        try:
            free, _ = new_key(url, "free")
            capped, _ = new_key(url, "capped", budget_day_usd=1.0)
            kf, kc = login(access, free), login(access, capped)
            pg.stop()
            where = r"PostgreSQL \(postgresql://smallfirst@127\.0\.0\.1:\d+/\w+\) is unreachable: .*refused"
            with pytest.raises(AccessStoreUnavailableError, match=where) as err:
                access.admit(kc, req(), "c0")  # budgets need the database at once
            assert err.value.status == 503 and err.value.to_openai()["error"]["code"] == "access_store_unavailable"
            time.sleep(2.5)  # past the grace: even keys without limits are refused (revocations may be missed)
            with pytest.raises(AccessStoreUnavailableError, match="unreachable"):
                access.authenticate([(b"authorization", f"Bearer {free}".encode())])
            pg.start()
            deadline = time.monotonic() + 20
            while True:
                try:
                    assert login(access, free) == kf
                    break
                except AccessStoreUnavailableError:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            assert access.admit(kc, req(), "c1").key_id == kc.id
        finally:
            access.close()
