"""Upgrading a SQLite log written before the rollup table existed: the migration rolls up the old rows."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from smallfirst.store.codec import COLUMNS, to_row
from smallfirst.store.migrations import SQLITE_MIGRATIONS
from smallfirst.store.sqlite import SQLiteStore
from tests.helpers.logdata import T0, check_against_log, make_record


def test_old_rows_are_rolled_up_on_upgrade(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(path, isolation_level=None)
    for stmt in (s for s in SQLITE_MIGRATIONS[0].split(";") if s.strip()):
        conn.execute(stmt)
    conn.execute("PRAGMA user_version = 1")
    rng = random.Random(5)
    old = [make_record(i, rng) for i in range(12_000)]  # more than one backfill batch
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                     [to_row(r) for r in old])
    conn.execute("COMMIT")
    conn.close()

    store = SQLiteStore(path)
    new = [make_record(100_000 + i, rng) for i in range(300)]
    for r in new:
        store.record(r)
    store.flush()
    check_against_log(store.summary(since=T0 - 60, until=T0 + 5 * 3600, bucket_s=3600), old + new)
    store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(SQLITE_MIGRATIONS)


def test_postgres_rollup_is_rebuilt_on_upgrade(pg_cluster: str) -> None:
    import psycopg

    from smallfirst.store.migrations import POSTGRES_MIGRATIONS
    from smallfirst.store.postgres import PostgresStore
    from tests.helpers.postgres import fresh_database

    url = fresh_database(pg_cluster)
    rng = random.Random(6)
    old = [make_record(i, rng) for i in range(3000)]
    with psycopg.connect(url) as conn:
        for sql in POSTGRES_MIGRATIONS[:2]:  # a log at schema version 2: rows, but no ten-minute cells
            for stmt in (s for s in sql.split(";") if s.strip()):
                conn.execute(stmt.encode())
        conn.execute(b"CREATE TABLE smallfirst_schema (version INTEGER NOT NULL)")
        conn.execute(b"INSERT INTO smallfirst_schema (version) VALUES (2)")
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
                            .encode(), [to_row(r) for r in old])
    store = PostgresStore(url)
    try:
        check_against_log(store.summary(since=T0 - 60, until=T0 + 5 * 3600, bucket_s=600), old)
    finally:
        store.close()
    with psycopg.connect(url) as conn:
        row = conn.execute(b"SELECT version FROM smallfirst_schema").fetchone()
        assert row is not None and row[0] == len(POSTGRES_MIGRATIONS)
