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
