"""HostAccess: two access layers on one SQLite file (two workers of one host) share budgets and rate limits."""

from __future__ import annotations

import calendar
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smallfirst.access import KeyInfo, KeyStore, Limits
from smallfirst.access import host as host_access
from smallfirst.access.host import HostAccess
from smallfirst.config.loader import parse
from smallfirst.config.schema import AccessConfig
from smallfirst.core.errors import BudgetExceededError, RateLimitError
from smallfirst.core.types import ChatRequest, RequestRecord
from smallfirst.pipeline import build_tiers

NOON = float(calendar.timegm((2025, 6, 15, 12, 0, 0, 0, 0, 0)))
TIERS = parse({"tiers": [
    {"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
    {"name": "mid", "endpoints": [{"backend": "fake", "model": "m", "location": "eu",
                                   "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0}]},
    {"name": "frontier", "endpoints": [{"backend": "fake", "model": "f", "location": "us",
                                        "price_input_per_mtok": 10.0, "price_output_per_mtok": 30.0}]},
]})


class Clock:
    def __init__(self) -> None:
        self.t = NOON

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def workers(tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[HostAccess]]:
    """Two HostAccess layers on one file, as two worker processes (distinct pids) would have."""
    path = str(tmp_path / "log.db")
    host_access.prepare(path)
    out = []
    for pid in (1001, 1002):
        monkeypatch.setattr(os, "getpid", lambda pid=pid: pid)
        out.append(HostAccess(path, build_tiers(TIERS), AccessConfig(refresh_ms=0), clock=clock))
    monkeypatch.undo()
    yield out
    for a in out:
        a.close()


def key(path: str, **limits: Any) -> str:
    store = KeyStore(path)
    try:
        k, _ = store.create("k", Limits(**limits))
    finally:
        store.close()
    return k


def login(access: HostAccess, k: str) -> KeyInfo:
    info = access.authenticate([(b"authorization", f"Bearer {k}".encode())])
    assert info is not None
    return info


def req(max_tokens: int = 100) -> ChatRequest:
    return ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": "hello"}], body={},
                       max_tokens=max_tokens, headers={})


def record(rid: str, cost: float, tokens: int = 0) -> RequestRecord:
    return RequestRecord(rid, NOON, "smallfirst/auto", "mid", "m", "mid", 200, None, "", (), (), tokens, 0, cost,
                         1.0, None, False)


def test_requests_per_minute_hold_across_workers(workers: list[HostAccess], clock: Clock) -> None:
    a, b = workers
    k = key(a.path, rpm=4)
    infos = [login(a, k), login(b, k)]
    admitted = 0
    for i in range(10):  # alternating workers: in memory each would admit 4 (8 in all)
        try:
            workers[i % 2].admit(infos[i % 2], req(), f"r{i}")
            admitted += 1
        except RateLimitError as err:
            assert "limit of 4 requests per minute" in err.message and err.retry_after_s == pytest.approx(15.0)
    assert admitted == 4
    clock.t += 15.0  # one request's worth refilled, for whichever worker asks
    b.admit(infos[1], req(), "later")
    with pytest.raises(RateLimitError):
        a.admit(infos[0], req(), "later2")


def test_budget_holds_across_workers_and_settles(workers: list[HostAccess]) -> None:
    a, b = workers
    # mid's upper bound for 1000 output tokens: (6 × 1 + 1000 × 2) / 1e6 ≈ $0.002; $0.01 fits 4 in flight
    k = key(a.path, budget_day_usd=0.01, tiers=("mid",))
    infos = [login(a, k), login(b, k)]
    held = []
    for i in range(8):
        try:
            workers[i % 2].admit(infos[i % 2], req(max_tokens=1000), f"r{i}")
            held.append(i)
        except BudgetExceededError as err:
            assert "held by requests in flight" in err.message
    assert held == [0, 1, 2, 3]
    snap = a.snapshot()[infos[0].id]
    assert snap["reserved"] == pytest.approx(4 * 0.002006, rel=1e-3) and snap["spent_day"] == 0.0
    for i in held:  # each cost $0.001: the reservations become spend, in whichever worker settles them
        workers[i % 2].observe(record(f"r{i}", 0.001))
    a.close()  # settlements are written before close returns
    b.close()
    conn = sqlite3.connect(a.path)
    state = conn.execute("SELECT spent_day, spent_month, reserved FROM access_host_state").fetchone()
    usage = conn.execute("SELECT cost_usd, requests FROM access_usage").fetchone()
    grants = conn.execute("SELECT COUNT(*) FROM access_host_grants").fetchone()[0]
    conn.close()
    assert state == pytest.approx((0.004, 0.004, 0.0)) and usage == pytest.approx((0.004, 4)) and grants == 0


def test_spend_seeds_from_saved_usage_and_a_dead_workers_reservations_are_released(
        workers: list[HostAccess]) -> None:
    a, b = workers
    k = key(a.path, budget_day_usd=0.01, tiers=("mid",))
    info_a, info_b = login(a, k), login(b, k)
    conn = sqlite3.connect(a.path)
    conn.execute("INSERT INTO access_usage VALUES (?, '2025-06-15', 0.006, 3, 0)", (info_a.id,))
    conn.commit()
    conn.close()
    a.admit(info_a, req(max_tokens=1000), "r1")  # $0.006 spent + $0.002 reserved
    with pytest.raises(BudgetExceededError, match=r"spent \$0.0060 of its \$0.01 daily budget"):
        b.admit(info_b, req(max_tokens=1000), "r2")
    assert host_access.release(a.path, 1001) == 1  # worker a died: the supervisor frees what it held
    b.admit(info_b, req(max_tokens=1000), "r3")


def test_keys_without_limits_take_the_in_memory_path(workers: list[HostAccess]) -> None:
    a, _ = workers
    info = login(a, key(a.path))
    adm = a.admit(info, req(), "r1")
    assert adm.key_id == info.id and adm.tiers is None
    a.observe(record("r1", 0.5))
    conn = sqlite3.connect(a.path)
    assert conn.execute("SELECT COUNT(*) FROM access_host_state").fetchone()[0] == 0
    conn.close()
