"""PostgreSQL request log, for gateway replicas that share one log. Needs the ``[postgres]`` extra.

Same behaviour as the SQLite store: ``record`` only enqueues; one writer thread commits batches
(raw rows and rollup increments in one transaction). Migrations run under an advisory lock, so
replicas starting together migrate once. If the server goes away, the writer keeps the batch,
reconnects with backoff and writes it when the server is back; nothing is dropped while the store
is open. (A batch whose commit reached the server but whose acknowledgement was lost is written
again: at-least-once, like any client that retries.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from smallfirst.core.errors import ConfigError
from smallfirst.core.protocols import Store
from smallfirst.core.types import RequestRecord
from smallfirst.store import feedback, recent, rollup
from smallfirst.store.batcher import BatchWriter
from smallfirst.store.codec import COLUMNS, from_row, to_row
from smallfirst.store.migrations import EGRESS_BACKFILL_STEPS, POSTGRES_MIGRATIONS, ROLLUP_BACKFILL_STEPS
from smallfirst.store.summary import summarize

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("smallfirst.store")

_INSERT = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
_UPSERT = rollup.UPSERT.replace("?", "%s")
_MIGRATION_LOCK = 0x5F5F_736D_616C_6C  # pg_advisory_xact_lock key: "smallfirst" migrations
_GIVE_UP_ON_CLOSE_S = 15.0


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


def redact(url: str) -> str:
    """The URL without a password, for messages."""
    head, sep, tail = url.partition("://")
    creds, at, host = tail.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{head}{sep}{creds.split(':', 1)[0]}:***@{host}"


def connect(url: str, *, autocommit: bool) -> psycopg.Connection[tuple[Any, ...]]:
    try:
        import psycopg
    except ImportError:
        raise ConfigError("log.url is a PostgreSQL URL, but psycopg is not installed",
                          hint="pip install 'smallfirst[postgres]'") from None
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"cannot connect to PostgreSQL at {redact(url)}: {first}",
                          hint="is the server running and reachable? check log.url; the password comes from "
                               "PGPASSWORD or ~/.pgpass") from None


def migrate(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    """Apply pending migrations in order under an advisory lock; returns the schema version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS smallfirst_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM smallfirst_schema").fetchone()
        if row is None:
            conn.execute("INSERT INTO smallfirst_schema (version) VALUES (0)")
            version = 0
        else:
            version = int(row[0])
        for i, sql in enumerate(POSTGRES_MIGRATIONS[version:], start=version + 1):
            for stmt in (s for s in sql.split(";") if s.strip()):
                conn.execute(stmt.encode())
            if i in ROLLUP_BACKFILL_STEPS:
                _backfill_rollup(conn)
            elif i in EGRESS_BACKFILL_STEPS:
                _backfill_rollup(conn, egress_only=True)
            version = i
        conn.execute("UPDATE smallfirst_schema SET version = %s", (version,))
    return version


def _backfill_rollup(conn: psycopg.Connection[tuple[Any, ...]], *, egress_only: bool = False) -> None:
    only = " AND sensitive <> '[]'" if egress_only else ""  # egress cells: sensitive rows only
    select = f"SELECT id, {', '.join(COLUMNS)} FROM requests WHERE id > %s{only} ORDER BY id LIMIT 5000".encode()

    def fetch(after: int) -> list[tuple[Any, ...]]:
        return conn.execute(select, (after,)).fetchall()

    def upsert(rows: list[tuple[Any, ...]]) -> None:
        with conn.cursor() as cur:
            cur.executemany(_UPSERT.encode(), rows)

    if egress_only:
        rollup.backfill(fetch, upsert, rollup.egress_items)
    else:
        rollup.backfill(fetch, upsert)


class PostgresStore(Store):
    """Request log in PostgreSQL; selected by ``log.url = "postgresql://…"``."""

    def __init__(self, url: str, *, batch_size: int = 256, flush_interval_s: float = 0.2) -> None:
        self.url = url
        self._conn = connect(url, autocommit=False)
        migrate(self._conn)
        self._read = connect(url, autocommit=True)
        self._read_lock = threading.Lock()
        self._closing = threading.Event()
        self._closed = False
        self._writer = BatchWriter(self._write_until_done, batch_size=batch_size, interval_s=flush_interval_s,
                                   name="smallfirst-pg-writer")

    def record(self, record: RequestRecord) -> None:
        self._writer.put(record)

    # ---- writer ------------------------------------------------------------------------------------

    def _write(self, batch: list[RequestRecord]) -> None:
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.executemany(_INSERT, [to_row(r) for r in batch])
            cur.executemany(_UPSERT, rollup.rows_for(batch))

    def _write_until_done(self, batch: list[RequestRecord]) -> None:
        import psycopg

        delay, deadline = 0.1, None
        while True:
            try:
                self._write(batch)
                return
            except (psycopg.OperationalError, psycopg.InterfaceError) as err:
                if self._closing.is_set():
                    deadline = deadline or time.monotonic() + _GIVE_UP_ON_CLOSE_S
                    if time.monotonic() > deadline:
                        log.error("request log: PostgreSQL unreachable at shutdown; %d rows not written: %s",
                                  len(batch), err)
                        return
                log.warning("request log: PostgreSQL write failed (%s); retrying in %.1f s", err, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                self._reconnect()
            except psycopg.Error as err:  # a row the server refuses: retrying cannot help
                log.error("request log: PostgreSQL refused a batch of %d rows: %s", len(batch), err)
                return

    def _reconnect(self) -> None:
        try:
            self._conn.close()
            self._conn = connect(self.url, autocommit=False)
        except ConfigError as err:
            log.warning("request log: reconnect failed: %s", err.message)

    def flush(self) -> None:
        self._writer.flush()

    # ---- reads -------------------------------------------------------------------------------------

    def _fetch(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        import psycopg

        with self._read_lock:
            try:
                return self._read.execute(sql.encode(), args).fetchall()
            except (psycopg.OperationalError, psycopg.InterfaceError):
                self._read.close()
                self._read = connect(self.url, autocommit=True)
                return self._read.execute(sql.encode(), args).fetchall()

    def query(self, *, since: float | None = None, until: float | None = None,
              limit: int | None = None) -> list[RequestRecord]:
        sql = f"SELECT {', '.join(COLUMNS)} FROM requests WHERE ts >= %s AND ts <= %s ORDER BY ts, id"
        args: list[Any] = [since if since is not None else 0.0, until if until is not None else 1e18]
        if limit is not None:
            sql += " LIMIT %s"
            args.append(limit)
        return [from_row(tuple(r)) for r in self._fetch(sql, args)]

    def summary(self, *, since: float, until: float, bucket_s: int) -> dict[str, Any]:
        return summarize(lambda sql, args: self._fetch(_pg(sql), args), since, until, bucket_s)

    def find(self, request_id: str) -> RequestRecord | None:
        """The logged row of one request (the latest, should an id repeat), after a flush."""
        self.flush()
        sql = f"SELECT {', '.join(COLUMNS)} FROM requests WHERE request_id = %s ORDER BY id DESC LIMIT 1"
        rows = self._fetch(sql, [request_id])
        return from_row(tuple(rows[0])) if rows else None

    def add_feedback(self, fb: feedback.Feedback) -> None:
        """One feedback row (smallfirst/store/feedback.py), written at once (the read connection autocommits)."""
        with self._read_lock:
            self._read.execute(_pg(feedback.INSERT).encode(), fb.to_row())

    def feedback(self, *, since: float | None = None, until: float | None = None) -> list[feedback.Feedback]:
        return feedback.select(lambda sql, args: self._fetch(_pg(sql), args), since, until)

    def recent_tiers(self, limit: int) -> list[str]:
        """The served tiers of the newest ``limit`` routed requests, oldest first (smallfirst/store/recent.py)."""
        return recent.recent_tiers(lambda sql, args: self._fetch(_pg(sql), args), limit)

    def count(self) -> int:
        return int(self._fetch("SELECT COUNT(*) FROM requests", [])[0][0])

    def close(self) -> None:
        if self._closed:
            return
        self._closing.set()
        self._writer.close()
        self._closed = True
        self._read.close()
        self._conn.close()
