from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from smallfirst.access.keys import Limits, bearer
from smallfirst.access.keystore import KeyStore
from smallfirst.core.errors import BadRequestError, NotFoundError
from smallfirst.store.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(str(tmp_path / "log.db"))


def test_key_is_random_prefixed_and_only_its_hash_is_stored(store: KeyStore, tmp_path: Path) -> None:
    key, info = store.create("alice", Limits(rpm=5))
    key2, _ = store.create("bob", Limits())
    assert key.startswith("sf-") and len(key) >= 40 and key != key2
    assert info.prefix == key[:10] and info.id.startswith("key_")
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert key.encode() not in raw and key[10:].encode() not in raw
    conn = sqlite3.connect(tmp_path / "log.db")
    (digest,) = conn.execute("SELECT hash FROM access_keys WHERE id = ?", (info.id,)).fetchone()
    conn.close()
    assert digest == hashlib.sha256(key.encode()).hexdigest()


def test_limits_roundtrip_and_listing(store: KeyStore) -> None:
    lim = Limits(budget_day_usd=1.5, budget_month_usd=20.0, rpm=10, tpm=5000, tiers=("local", "mid"))
    _, info = store.create("svc", lim)
    (got,) = store.keys()
    assert got == info and got.limits == lim
    assert lim.describe() == "$1.5/day, $20/month, 10 req/min, 5000 tok/min, tiers local,mid"


def test_every_change_bumps_the_revision(store: KeyStore) -> None:
    r0 = store.revision()
    _, info = store.create("a", Limits())
    r1 = store.revision()
    store.revoke(info.id)
    assert r0 < r1 < store.revision()
    rev, total, active = store.active_by_hash()
    assert rev == store.revision() and total == 1 and active == {}


def test_revoke_by_name_and_errors(store: KeyStore) -> None:
    _, a = store.create("dup", Limits())
    store.create("dup", Limits())
    with pytest.raises(BadRequestError, match="2 active keys"):
        store.revoke("dup")
    assert store.revoke(a.id).revoked is not None
    assert store.revoke("dup").name == "dup"  # now only one active key has the name
    with pytest.raises(NotFoundError):
        store.revoke("key_nope")
    assert store.keys(include_revoked=False) == []


def test_usage_upserts_and_spend_by_day_and_month(store: KeyStore) -> None:
    store.add_usage([("k1", "2025-05-01", 0.5, 2, 100), ("k1", "2025-05-02", 0.25, 1, 10)])
    store.add_usage([("k1", "2025-05-02", 0.25, 1, 10), ("k2", "2025-04-30", 9.0, 1, 1)])
    spend = store.spend("2025-05-02", "2025-05")
    assert list(spend) == ["k1"] and spend["k1"] == pytest.approx((0.5, 1.0))
    assert store.usage("2025-05-02", "2025-05")["k1"][2] == 4


def test_lives_beside_the_request_log_in_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "log.db")
    log = SQLiteStore(path)
    keys = KeyStore(path)
    keys.create("x", Limits())
    again = KeyStore(path)  # migrations are idempotent
    assert len(again.keys()) == 1 and log.count() == 0
    for s in (keys, again):
        s.close()
    log.close()


def test_bearer_parsing() -> None:
    assert bearer([(b"authorization", b"Bearer sf-abc")]) == b"sf-abc"
    assert bearer([(b"authorization", b"bearer  sf-abc ")]) == b"sf-abc"
    assert bearer([(b"authorization", b"Basic xyz")]) is None
    assert bearer([(b"authorization", b"Bearer ")]) is None
    assert bearer([(b"x-other", b"1")]) is None
