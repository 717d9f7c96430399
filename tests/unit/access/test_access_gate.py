from __future__ import annotations

import calendar
from pathlib import Path
from typing import Any

import pytest

from smallfirst.access import Access, KeyInfo, KeyStore, Limits
from smallfirst.config.loader import parse
from smallfirst.config.schema import AccessConfig
from smallfirst.core.errors import AuthenticationError, BudgetExceededError, PermissionDeniedError, RateLimitError
from smallfirst.core.types import OPEN, Admission, ChatRequest, RequestRecord
from smallfirst.pipeline import build_tiers

NOON = float(calendar.timegm((2025, 6, 15, 12, 0, 0, 0, 0, 0)))
# mid: $1/M in, $2/M out; frontier: $10/M in, $30/M out
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
        self.m = 1000.0

    def advance(self, s: float) -> None:
        self.t += s
        self.m += s


def make(tmp_path: Path, clock: Clock, **cfg: Any) -> tuple[Access, KeyStore]:
    path = str(tmp_path / "log.db")
    access = Access(KeyStore(path), build_tiers(TIERS), AccessConfig(**{"refresh_ms": 0, **cfg}), max_escalations=2,
                    clock=lambda: clock.t, mono=lambda: clock.m)
    return access, KeyStore(path)


def auth(key: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {key}".encode())]


def login(access: Access, key: str) -> KeyInfo:
    info = access.authenticate(auth(key))
    assert info is not None
    return info


def req(model: str = "smallfirst/auto", text: str = "hello", max_tokens: int | None = 100,
        headers: dict[str, str] | None = None) -> ChatRequest:
    return ChatRequest(model=model, messages=[{"role": "user", "content": text}], body={}, max_tokens=max_tokens,
                       headers=headers or {})


def record(rid: str, cost: float, tokens: int = 0) -> RequestRecord:
    return RequestRecord(rid, NOON, "smallfirst/auto", "mid", "m", "mid", 200, None, "", (), (), tokens, 0, cost,
                         1.0, None, False)


def test_open_gateway_until_a_key_exists(tmp_path: Path) -> None:
    clock = Clock()
    access, cli = make(tmp_path, clock)
    assert access.authenticate([]) is None
    key, info = cli.create("a", Limits())
    with pytest.raises(AuthenticationError, match="needs an API key"):
        access.authenticate([])
    with pytest.raises(AuthenticationError, match="not valid"):
        access.authenticate(auth("sf-wrong"))
    got = access.authenticate(auth(key))
    assert got is not None and got.id == info.id


def test_require_keys_refuses_even_with_no_keys(tmp_path: Path) -> None:
    access, _ = make(tmp_path, Clock(), require_keys=True)
    with pytest.raises(AuthenticationError):
        access.authenticate([])


def test_revocation_applies_within_refresh_interval(tmp_path: Path) -> None:
    clock = Clock()
    access, cli = make(tmp_path, clock, refresh_ms=50)
    key, info = cli.create("a", Limits())
    clock.advance(0.06)
    assert access.authenticate(auth(key)) is not None
    cli.revoke(info.id)
    clock.advance(0.01)
    assert access.authenticate(auth(key)) is not None  # still cached: 10 ms < refresh_ms
    clock.advance(0.05)
    with pytest.raises(AuthenticationError):
        access.authenticate(auth(key))
    with pytest.raises(AuthenticationError):  # the last key revoked: the gateway stays locked
        access.authenticate([])


def test_requests_per_minute(tmp_path: Path) -> None:
    clock = Clock()
    access, cli = make(tmp_path, clock)
    key, _ = cli.create("a", Limits(rpm=3))
    info = login(access, key)
    for i in range(3):
        access.admit(info, req(), f"r{i}")
    with pytest.raises(RateLimitError, match="3 requests per minute") as e:
        access.admit(info, req(), "r3")
    assert e.value.retry_after_s == pytest.approx(20.0)
    clock.advance(20.0)
    access.admit(info, req(), "r4")


def test_tokens_per_minute_reserve_then_settle(tmp_path: Path) -> None:
    clock = Clock()
    access, cli = make(tmp_path, clock)
    key, _ = cli.create("a", Limits(tpm=1000))
    info = login(access, key)
    access.admit(info, req(max_tokens=400), "r1")  # reserves ~407 tokens
    access.admit(info, req(max_tokens=400), "r2")
    with pytest.raises(RateLimitError, match="1000 tokens per minute"):
        access.admit(info, req(max_tokens=400), "r3")
    access.observe(record("r1", 0.0, tokens=20))  # r1 used far less than reserved: refund
    access.admit(info, req(max_tokens=400), "r3")


def test_budget_drops_expensive_tiers_then_refuses_with_retry_after(tmp_path: Path) -> None:
    clock = Clock()
    access, cli = make(tmp_path, clock)
    key, _ = cli.create("a", Limits(budget_day_usd=0.01, tiers=("mid", "frontier")))
    info = login(access, key)
    # frontier's upper bound for 1000 output tokens is ~$0.03: only mid (~$0.002) fits
    r = access.admit(info, req(max_tokens=1000), "r1")
    assert r.tiers == ("mid",) and r.key_id == info.id and 0 < r.reserved_usd <= 0.01
    access.observe(record("r1", 0.0099))
    with pytest.raises(BudgetExceededError, match=r"spent \$0.0099 of its \$0.01 daily budget") as e:
        access.admit(info, req(max_tokens=1000), "r2")
    assert e.value.status == 429 and e.value.retry_after_s == pytest.approx(12 * 3600.0)


def test_free_local_tier_still_serves_when_the_budget_is_spent(tmp_path: Path) -> None:
    clock = Clock()
    access, cli = make(tmp_path, clock)
    key, _ = cli.create("a", Limits(budget_month_usd=0.0))
    info = login(access, key)
    assert access.admit(info, req(), "r1").tiers == ("local",)
    with pytest.raises(BudgetExceededError, match="monthly"):
        access.admit(info, req(model="smallfirst/frontier"), "r2")


def test_racing_admissions_never_reserve_past_the_budget(tmp_path: Path) -> None:
    clock = Clock()
    access, cli = make(tmp_path, clock)
    key, _ = cli.create("a", Limits(budget_day_usd=0.05, tiers=("frontier",)))
    info = login(access, key)
    admitted = 0
    for i in range(100):  # none settles in between: all are in flight at once
        try:
            access.admit(info, req(max_tokens=100), f"r{i}")
            admitted += 1
        except BudgetExceededError:
            pass
    per = (10.0 * (len("hello") / 3 + 4) + 30.0 * 100) / 1e6  # upper bound of one frontier answer
    assert admitted == int(0.05 // per) == 16
    assert access.snapshot()[info.id]["reserved"] <= 0.05


def test_pinned_tier_outside_the_key_is_forbidden(tmp_path: Path) -> None:
    access, cli = make(tmp_path, Clock())
    key, _ = cli.create("a", Limits(tiers=("local",)))
    info = login(access, key)
    with pytest.raises(PermissionDeniedError, match="may not use tier 'frontier'"):
        access.admit(info, req(model="smallfirst/frontier"), "r1")
    with pytest.raises(PermissionDeniedError):
        access.admit(info, req(model="f"), "r2")  # a concrete model of that tier


def test_admission_is_a_value_no_header_can_forge(tmp_path: Path) -> None:
    access, cli = make(tmp_path, Clock())
    key, _ = cli.create("a", Limits())
    info = login(access, key)
    r = access.admit(info, req(headers={"x-smallfirst-key-tiers": "frontier"}), "r1")
    assert r == Admission(info.id, None, r.reserved_tokens, 0.0)  # every tier: the header means nothing
    assert access.admit(None, req(), "r2") is OPEN


def test_admission_names_the_allowed_tiers(tmp_path: Path) -> None:
    access, cli = make(tmp_path, Clock())
    key, _ = cli.create("a", Limits(tiers=("local", "mid")))
    info = login(access, key)
    assert access.admit(info, req(), "r1").tiers == ("local", "mid")


def test_spend_is_saved_and_seeds_the_next_gateway(tmp_path: Path) -> None:
    clock = Clock()
    access, cli = make(tmp_path, clock)
    key, _ = cli.create("a", Limits(budget_day_usd=1.0))
    info = login(access, key)
    for i in range(4):
        access.admit(info, req(), f"r{i}")
        access.observe(record(f"r{i}", 0.125))
    access.close()
    day = "2025-06-15"
    assert cli.spend(day, day[:7])[info.id] == pytest.approx((0.5, 0.5))
    again, _ = make(tmp_path, clock)
    assert again.snapshot()[info.id]["spent_day"] == pytest.approx(0.5)
    clock.advance(86400.0)  # next day: the day's spend restarts, the month's does not
    again.admit(login(again, key), req(), "x")
    assert again.snapshot()[info.id]["spent_day"] == 0.0
    assert again.snapshot()[info.id]["spent_month"] == pytest.approx(0.5)
    again.close()
