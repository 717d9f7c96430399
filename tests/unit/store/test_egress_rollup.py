"""Redaction marks and the rollup's ``egress`` cells: from each attempt's logged location, in both stores.

The admin summary's "left host" figure is read from these cells, so changing a tier's locality in
config does not rewrite history; migration 4 adds them for rows logged before.
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smallfirst.core.types import Attempt, RequestRecord, Usage
from smallfirst.dashboard.views import View, default_target, overview
from smallfirst.store.codec import COLUMNS, to_row
from smallfirst.store.migrations import SQLITE_MIGRATIONS
from smallfirst.store.rollup import (
    EGRESS_LOCAL,
    EGRESS_REDACTED,
    EGRESS_UNREDACTED,
    EGRESS_UNVERIFIED,
    Rollup,
    egress_of,
    rows_for,
)
from smallfirst.store.sqlite import SQLiteStore

T0 = 1_700_000_000.0
MASKED = (("email", 2), ("iban", 1))
TIERS = ("local", "mid", "frontier")


def attempt(tier: str, location: str, redacted: tuple[tuple[str, int], ...] | None = None,
            outcome: str = "ok") -> Attempt:
    return Attempt(tier, "m-" + tier, "e-" + tier, outcome, 2.0, 0.0, Usage(1, 1), location, redacted)


def record(i: int, attempts: tuple[Attempt, ...], *, ts: float = T0, sensitive: tuple[str, ...] = ("pii",),
           ) -> RequestRecord:
    tier = attempts[-1].tier if attempts else None
    return RequestRecord(
        request_id=f"req-{i}", ts=ts, requested_model="smallfirst/auto", tier=tier, model=tier and "m-" + tier,
        endpoint=tier and "e-" + tier, status=200 if tier else 503, error_code=None if tier else "policy_blocked",
        reason="r", escalations=(), attempts=attempts, prompt_tokens=1, completion_tokens=1, cost_usd=0.0,
        latency_ms=3.0, ttft_ms=None, stream=False, task_type="chat", sensitive=sensitive,
        sensitive_entities=(("email", 2),) if sensitive else ())


def random_record(i: int, rng: random.Random, ts: float) -> RequestRecord:
    loc = {"local": "local", "mid": "eu", "frontier": "us"}
    attempts = []
    for tier in rng.sample(TIERS, rng.randint(0, 3)):
        where = rng.choice([loc[tier], loc[tier], ""])  # "": logged before attempts had locations
        masked = MASKED if where not in ("local", "") and rng.random() < 0.6 else None
        attempts.append(attempt(tier, where, masked, rng.choice(["ok", "upstream_timeout"])))
    return record(i, tuple(attempts), ts=ts, sensitive=rng.choice([(), ("pii",), ("pii", "secret")]))


def egress_facets(summary: dict[str, Any]) -> Counter[str]:
    out: Counter[str] = Counter()
    for dim, _tier, key, n, *_ in summary["facets"]:
        if dim == "egress":
            out[key] += n
    return out


def test_egress_of_reads_logged_locations_and_masks() -> None:
    assert egress_of(record(1, (attempt("local", "local"),))) == EGRESS_LOCAL
    assert egress_of(record(2, ())) == EGRESS_LOCAL  # blocked before any attempt
    assert egress_of(record(3, (attempt("local", "local"), attempt("mid", "eu", MASKED)))) == EGRESS_REDACTED
    assert egress_of(record(4, (attempt("mid", "eu", MASKED), attempt("frontier", "us")))) == EGRESS_UNREDACTED
    assert egress_of(record(5, (attempt("frontier", "us"), attempt("mid", "eu", MASKED)))) == EGRESS_UNREDACTED
    assert egress_of(record(6, (attempt("local", ""),))) == EGRESS_UNVERIFIED
    assert egress_of(record(7, (attempt("local", ""), attempt("mid", "eu", MASKED)))) == EGRESS_REDACTED
    assert egress_of(record(8, (attempt("mid", "eu", MASKED), attempt("local", "")))) == EGRESS_REDACTED


def test_one_window_batches_with_egress_cells_match_record_by_record() -> None:
    rng = random.Random(11)
    for _ in range(30):
        base = T0 // 60 * 60
        recs = [random_record(i, rng, base + rng.random() * 59) for i in range(rng.randint(1, 120))]
        one = Rollup()
        for r in recs:
            one.add(r)
        assert rows_for(recs) == one.rows()
        cells: Counter[str] = Counter()
        for k, c in one.cells.items():
            if k[0] == 60 and k[2] == "egress":
                cells[k[4]] += int(c[0])
        assert cells == Counter(egress_of(r) for r in recs if r.sensitive)


def test_masks_round_trip_and_egress_cells_agree_with_the_rows(make_store: Callable[..., Any]) -> None:
    store = make_store(flush_interval_s=0.05)
    rng = random.Random(7)
    rows = [random_record(i, rng, T0 + rng.random() * 7200) for i in range(400)]
    for r in rows:
        store.record(r)
    store.flush()
    assert sorted(store.query(), key=lambda r: r.request_id) == sorted(rows, key=lambda r: r.request_id)
    s = store.summary(since=T0 - 60, until=T0 + 7300, bucket_s=600)
    assert egress_facets(s) == Counter(egress_of(r) for r in rows if r.sensitive)

    # the summary's residency figures come from the logged locations: another locality in config changes nothing
    want = Counter(egress_of(r) for r in rows if r.sensitive)
    for local in (frozenset({"local"}), frozenset({"local", "mid", "frontier"}), frozenset()):
        res = overview(s, View(TIERS, local, default_target(list(TIERS)), None))["residency"]
        assert res["sensitive_requests"] == sum(1 for r in rows if r.sensitive)
        assert res["left_host"] == want[EGRESS_REDACTED] + want[EGRESS_UNREDACTED]
        assert (res["left_host_redacted"], res["left_host_unredacted"], res["unverified"]) == (
            want[EGRESS_REDACTED], want[EGRESS_UNREDACTED], want[EGRESS_UNVERIFIED])


def test_attempt_json_marks_masked_attempts_only(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "log.db"))
    store.record(record(1, (attempt("local", "local", outcome="upstream_timeout"), attempt("mid", "eu", MASKED))))
    store.close()
    (raw,) = sqlite3.connect(tmp_path / "log.db").execute("SELECT attempts FROM requests").fetchone()
    assert '"location":"local"}' in raw  # no "redacted" key on an attempt sent as is
    assert raw.endswith('"location":"eu","redacted":{"email":2,"iban":1}}]')


def _v3_sqlite(path: Path, rows: list[RequestRecord]) -> None:
    """A log at schema version 3 (before egress cells): requests and their rollup as the old code wrote them."""
    conn = sqlite3.connect(path, isolation_level=None)
    for sql in SQLITE_MIGRATIONS[:3]:
        for stmt in (s for s in sql.split(";") if s.strip()):
            conn.execute(stmt)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                     [to_row(r) for r in rows])
    from smallfirst.store import rollup

    old = [c for c in rollup.rows_for(rows) if c[2] != "egress"]  # what version 3 rolled up
    conn.executemany(rollup.UPSERT, old)
    conn.execute("COMMIT")
    conn.close()


def test_sqlite_upgrade_backfills_egress_once(tmp_path: Path) -> None:
    rng = random.Random(3)
    old = [random_record(i, rng, T0 + rng.random() * 3600) for i in range(12_000)]  # more than one batch
    path = tmp_path / "log.db"
    _v3_sqlite(path, old)
    store = SQLiteStore(str(path))
    new = [random_record(100_000 + i, rng, T0 + 100) for i in range(50)]
    for r in new:
        store.record(r)
    store.flush()
    s = store.summary(since=T0 - 60, until=T0 + 3700, bucket_s=3600)
    store.close()
    assert egress_facets(s) == Counter(egress_of(r) for r in old + new if r.sensitive)
    SQLiteStore(str(path)).close()  # opening again migrates nothing
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(SQLITE_MIGRATIONS) == 5  # 5: feedback
    cells = conn.execute("SELECT * FROM request_rollup ORDER BY res, t, dim, tier, key").fetchall()
    conn.close()
    assert cells == rows_for(old + new)  # every cell, egress and the rest, as if rolled up live, once


def test_upgrade_from_version_1_does_not_count_egress_twice(tmp_path: Path) -> None:
    rng = random.Random(4)
    old = [random_record(i, rng, T0 + rng.random() * 3600) for i in range(300)]
    path = tmp_path / "log.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for stmt in (s for s in SQLITE_MIGRATIONS[0].split(";") if s.strip()):
        conn.execute(stmt)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                     [to_row(r) for r in old])
    conn.execute("COMMIT")
    conn.close()
    store = SQLiteStore(str(path))
    s = store.summary(since=T0 - 60, until=T0 + 3700, bucket_s=600)
    store.close()
    assert egress_facets(s) == Counter(egress_of(r) for r in old if r.sensitive)


def test_postgres_upgrade_backfills_egress(pg_cluster: str) -> None:
    import psycopg

    from smallfirst.store import rollup
    from smallfirst.store.migrations import POSTGRES_MIGRATIONS
    from smallfirst.store.postgres import PostgresStore
    from tests.helpers.postgres import fresh_database

    url = fresh_database(pg_cluster)
    rng = random.Random(8)
    old = [random_record(i, rng, T0 + rng.random() * 3600) for i in range(2000)]
    with psycopg.connect(url) as conn:
        for sql in POSTGRES_MIGRATIONS[:3]:
            for stmt in (s for s in sql.split(";") if s.strip()):
                conn.execute(stmt.encode())
        conn.execute(b"CREATE TABLE smallfirst_schema (version INTEGER NOT NULL)")
        conn.execute(b"INSERT INTO smallfirst_schema (version) VALUES (3)")
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
                            .encode(), [to_row(r) for r in old])
            cur.executemany(rollup.UPSERT.replace("?", "%s").encode(),
                            [c for c in rollup.rows_for(old) if c[2] != "egress"])
    store = PostgresStore(url)
    try:
        s = store.summary(since=T0 - 60, until=T0 + 3700, bucket_s=600)
    finally:
        store.close()
    assert egress_facets(s) == Counter(egress_of(r) for r in old if r.sensitive)
    with psycopg.connect(url) as conn:
        row = conn.execute(b"SELECT version FROM smallfirst_schema").fetchone()
        assert row is not None and row[0] == len(POSTGRES_MIGRATIONS) == 5  # 5: feedback
