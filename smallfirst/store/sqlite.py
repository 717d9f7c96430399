"""SQLite request log (WAL). Writes are queued and committed in batches by one writer thread."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smallfirst.core.protocols import Store
from smallfirst.core.types import RequestRecord
from smallfirst.store import feedback, recent, rollup
from smallfirst.store.batcher import BatchWriter
from smallfirst.store.codec import COLUMNS, from_row, to_row
from smallfirst.store.migrations import EGRESS_BACKFILL_STEPS, ROLLUP_BACKFILL_STEPS, SQLITE_MIGRATIONS
from smallfirst.store.summary import summarize

WRITE_TRIES = 6  # a batch waits up to BUSY_TIMEOUT_S per try for another writer's lock
BUSY_TIMEOUT_S = 30.0
_INSERT = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def connect(path: str) -> sqlite3.Connection:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations in order; returns the schema version. Safe when several processes (the
    workers of ``smallfirst serve --workers N``) open the file at once: each step re-reads the version
    under the write lock, so a step another process applied is not applied again."""
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    while version < len(SQLITE_MIGRATIONS):
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version >= len(SQLITE_MIGRATIONS):
                conn.execute("COMMIT")
                break
            i = version + 1
            for stmt in (s for s in SQLITE_MIGRATIONS[version].split(";") if s.strip()):
                conn.execute(stmt)
            if i in ROLLUP_BACKFILL_STEPS:
                _backfill_rollup(conn)
            elif i in EGRESS_BACKFILL_STEPS:
                _backfill_rollup(conn, egress_only=True)
            conn.execute(f"PRAGMA user_version = {i}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version = i
    return version


def _backfill_rollup(conn: sqlite3.Connection, *, egress_only: bool = False) -> None:
    only = " AND sensitive <> '[]'" if egress_only else ""  # egress cells: sensitive rows only
    select = f"SELECT id, {', '.join(COLUMNS)} FROM requests WHERE id > ?{only} ORDER BY id LIMIT 5000"

    def fetch(after: int) -> list[tuple[Any, ...]]:
        return conn.execute(select, (after,)).fetchall()

    def upsert(rows: list[tuple[Any, ...]]) -> None:
        conn.executemany(rollup.UPSERT, rows)

    if egress_only:
        rollup.backfill(fetch, upsert, rollup.egress_items)
    else:
        rollup.backfill(fetch, upsert)


class SQLiteStore(Store):
    """The default request log. ``record`` never blocks on disk: a thread batches the inserts."""

    def __init__(self, path: str, *, batch_size: int = 256, flush_interval_s: float = 0.2) -> None:
        self.path = path
        self._conn = connect(path)
        migrate(self._conn)
        self._read = connect(path) if path != ":memory:" else self._conn
        self._read_lock = threading.Lock()
        self._closed = False
        self._writer = BatchWriter(self._write, batch_size=batch_size, interval_s=flush_interval_s,
                                   name="smallfirst-log-writer")

    def record(self, record: RequestRecord) -> None:
        self._writer.put(record)

    def _write(self, batch: list[RequestRecord]) -> None:
        """One transaction per batch. ``BEGIN IMMEDIATE`` takes the write lock first, so writers in other
        processes (several workers on one file) queue on the busy timeout instead of failing on a stale
        snapshot; a batch that still finds the file locked is retried, never dropped quietly."""
        rows = [to_row(r) for r in batch]
        cells = rollup.rows_for(batch)
        for attempt in range(WRITE_TRIES):
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                if attempt == WRITE_TRIES - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
                continue
            try:
                self._conn.executemany(_INSERT, rows)
                self._conn.executemany(rollup.UPSERT, cells)
                self._conn.execute("COMMIT")
                return
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def flush(self) -> None:
        self._writer.flush()

    def query(self, *, since: float | None = None, until: float | None = None,
              limit: int | None = None) -> list[RequestRecord]:
        sql = f"SELECT {', '.join(COLUMNS)} FROM requests WHERE ts >= ? AND ts <= ? ORDER BY ts, id"
        args: list[Any] = [since if since is not None else 0.0, until if until is not None else 1e18]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._read_lock:
            rows = self._read.execute(sql, args).fetchall()
        return [from_row(tuple(r)) for r in rows]

    def summary(self, *, since: float, until: float, bucket_s: int) -> dict[str, Any]:
        def execute(sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
            with self._read_lock:
                return self._read.execute(sql, args).fetchall()

        return summarize(execute, since, until, bucket_s)

    def find(self, request_id: str) -> RequestRecord | None:
        """The logged row of one request (the latest, should an id repeat), after a flush."""
        self.flush()
        sql = f"SELECT {', '.join(COLUMNS)} FROM requests WHERE request_id = ? ORDER BY id DESC LIMIT 1"
        with self._read_lock:
            row = self._read.execute(sql, (request_id,)).fetchone()
        return from_row(tuple(row)) if row is not None else None

    def add_feedback(self, fb: feedback.Feedback) -> None:
        """One feedback row (smallfirst/store/feedback.py), written at once."""
        with self._read_lock:
            self._read.execute(feedback.INSERT, fb.to_row())

    def feedback(self, *, since: float | None = None, until: float | None = None) -> list[feedback.Feedback]:
        def execute(sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
            with self._read_lock:
                return self._read.execute(sql, args).fetchall()

        return feedback.select(execute, since, until)

    def recent_tiers(self, limit: int) -> list[str]:
        """The served tiers of the newest ``limit`` routed requests, oldest first (smallfirst/store/recent.py)."""
        def execute(sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
            with self._read_lock:
                return self._read.execute(sql, args).fetchall()

        return recent.recent_tiers(execute, limit)

    def count(self) -> int:
        with self._read_lock:
            n: int = self._read.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
        return n

    def close(self) -> None:
        if self._closed:
            return
        self._writer.close()
        self._closed = True
        if self._read is not self._conn:
            self._read.close()
        self._conn.close()
