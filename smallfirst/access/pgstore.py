"""The key tables in PostgreSQL (``[access] shared = true``): one key table for every replica.

Same tables and semantics as :mod:`smallfirst.access.keystore` (hashed keys, ``access_usage``, the
``access_revision`` counter a gateway watches), in the database of ``log.url``, plus the shared
counters of :mod:`smallfirst.access.ledger`:

* ``access_budget`` — per key: USD spent on the current UTC day and month, and reserved in flight;
* ``access_grants`` — one row per reservation in flight (so a crashed replica's are released);
* ``access_rate`` — (key id, UTC minute) → requests and tokens (rate limits).

Own ordered migrations (``access_schema``), applied under an advisory lock so replicas starting
together migrate once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from smallfirst.access.keys import KeyInfo
from smallfirst.access.keystore import _COLS, KeyStore, _info
from smallfirst.core.errors import ConfigError
from smallfirst.store.postgres import redact

if TYPE_CHECKING:
    import psycopg

PG_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE access_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created DOUBLE PRECISION NOT NULL,
        revoked DOUBLE PRECISION,
        budget_day_usd DOUBLE PRECISION,
        budget_month_usd DOUBLE PRECISION,
        rpm BIGINT,
        tpm BIGINT,
        tiers TEXT
    );
    CREATE TABLE access_usage (
        key_id TEXT NOT NULL,
        day TEXT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        requests BIGINT NOT NULL,
        tokens BIGINT NOT NULL,
        PRIMARY KEY (key_id, day)
    );
    CREATE TABLE access_revision (id INTEGER PRIMARY KEY CHECK (id = 1), revision BIGINT NOT NULL);
    INSERT INTO access_revision VALUES (1, 0);
    CREATE TABLE access_budget (
        key_id TEXT PRIMARY KEY,
        day TEXT NOT NULL,
        spent_day DOUBLE PRECISION NOT NULL DEFAULT 0,
        month TEXT NOT NULL,
        spent_month DOUBLE PRECISION NOT NULL DEFAULT 0,
        reserved DOUBLE PRECISION NOT NULL DEFAULT 0
    );
    CREATE TABLE access_grants (
        id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        day TEXT NOT NULL,
        cost DOUBLE PRECISION NOT NULL,
        created DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX access_grants_created ON access_grants (created);
    CREATE TABLE access_rate (
        key_id TEXT NOT NULL,
        minute BIGINT NOT NULL,
        requests BIGINT NOT NULL,
        tokens DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (key_id, minute)
    )
    """,
)
_LOCK = 0x5F5F_6163_6365_7373  # pg_advisory_xact_lock key: "access" migrations
_UPSERT_USAGE = """
    INSERT INTO access_usage AS u (key_id, day, cost_usd, requests, tokens) VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (key_id, day) DO UPDATE SET cost_usd = u.cost_usd + excluded.cost_usd,
        requests = u.requests + excluded.requests, tokens = u.tokens + excluded.tokens
"""


def pg_connect(url: str, *, timeout_s: int = 3) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection with bounded connect and statement times (raises psycopg errors)."""
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=timeout_s,
                           options="-c statement_timeout=5000 -c lock_timeout=5000")


def cause(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def open_pg(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    """:func:`pg_connect` for start-up and the CLI: a failure is a readable :class:`ConfigError`."""
    try:
        import psycopg
    except ImportError:
        raise ConfigError("[access] shared = true needs psycopg", hint="pip install 'smallfirst[postgres]'") from None
    try:
        return pg_connect(url, timeout_s=10)
    except psycopg.OperationalError as err:
        raise ConfigError(f"cannot connect to PostgreSQL at {redact(url)} for the shared key store: {cause(err)}",
                          hint="is the server running and reachable? check log.url; the password comes from "
                               "PGPASSWORD or ~/.pgpass") from None


def migrate_pg(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS access_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM access_schema").fetchone()
        version = int(row[0]) if row else 0
        if row is None:
            conn.execute("INSERT INTO access_schema VALUES (0)")
        for i, sql in enumerate(PG_MIGRATIONS[version:], start=version + 1):
            for stmt in (s for s in sql.split(";") if s.strip()):
                conn.execute(stmt.encode())
            conn.execute("UPDATE access_schema SET version = %s", (i,))
            version = i
    return version


class _Qmark:
    """The slice of ``sqlite3.Connection`` that :class:`KeyStore`'s reads use, over psycopg."""

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        self.pg = conn

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> psycopg.Cursor[tuple[Any, ...]]:
        return self.pg.execute(sql.replace("?", "%s").encode(), args)

    def close(self) -> None:
        self.pg.close()


class PgKeyStore(KeyStore):
    """:class:`KeyStore` over PostgreSQL (``log.url``). One instance per thread that uses it."""

    def __init__(self, url: str) -> None:  # no super().__init__(): there is no SQLite file
        self.path = redact(url)
        self.url = url
        pg = open_pg(url)
        try:
            migrate_pg(pg)
        except BaseException:
            pg.close()
            raise
        self._pg = pg
        self._conn = _Qmark(pg)  # type: ignore[assignment]

    def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        with self._pg.transaction():
            n = self._pg.execute(sql.replace("?", "%s").encode(), args).rowcount
            self._pg.execute("UPDATE access_revision SET revision = revision + 1")
        return n

    def add_usage(self, rows: Iterable[tuple[str, str, float, int, int]]) -> None:
        with self._pg.transaction(), self._pg.cursor() as cur:
            cur.executemany(_UPSERT_USAGE, list(rows))

    def active_by_hash(self) -> tuple[int, int, dict[str, KeyInfo]]:
        with self._pg.transaction():
            self._pg.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one snapshot for the three reads
            rev = self.revision()
            rows = self._pg.execute(f"SELECT {_COLS}, hash FROM access_keys WHERE revoked IS NULL".encode()).fetchall()
            row = self._pg.execute("SELECT COUNT(*) FROM access_keys").fetchone()
        total = int(row[0]) if row else 0
        return rev, total, {r[-1]: _info(tuple(r[:-1])) for r in rows}

    def revision(self) -> int:
        row = self._pg.execute("SELECT revision FROM access_revision").fetchone()
        return int(row[0]) if row else 0
