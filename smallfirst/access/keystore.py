"""Key table, per-key daily spend and a revision counter, in the request log's SQLite file.

Tables (own ordered migrations, versioned in ``access_schema``; the request log's are separate):

* ``access_keys`` — id, name, shown prefix, SHA-256 of the key, created/revoked times, limits;
* ``access_usage`` — (key id, UTC day) → USD, requests, tokens: the spend budgets are checked against;
* ``access_revision`` — one counter bumped by every key change, so a running gateway notices a new
  or revoked key by reading one integer.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from smallfirst.access.keys import KeyInfo, Limits, new_key, shown_prefix
from smallfirst.core.errors import BadRequestError, NotFoundError
from smallfirst.store.sqlite import connect

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE access_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created REAL NOT NULL,
        revoked REAL,
        budget_day_usd REAL,
        budget_month_usd REAL,
        rpm INTEGER,
        tpm INTEGER,
        tiers TEXT
    );
    CREATE TABLE access_usage (
        key_id TEXT NOT NULL,
        day TEXT NOT NULL,
        cost_usd REAL NOT NULL,
        requests INTEGER NOT NULL,
        tokens INTEGER NOT NULL,
        PRIMARY KEY (key_id, day)
    ) WITHOUT ROWID;
    CREATE TABLE access_revision (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL);
    INSERT INTO access_revision VALUES (1, 0);
    """,
)
_COLS = "id, name, prefix, created, revoked, budget_day_usd, budget_month_usd, rpm, tpm, tiers"
_UPSERT_USAGE = """
    INSERT INTO access_usage (key_id, day, cost_usd, requests, tokens) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (key_id, day) DO UPDATE SET cost_usd = cost_usd + excluded.cost_usd,
        requests = requests + excluded.requests, tokens = tokens + excluded.tokens
"""


def migrate(conn: sqlite3.Connection) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS access_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM access_schema").fetchone()
        version = int(row[0]) if row else 0
        if row is None:
            conn.execute("INSERT INTO access_schema VALUES (0)")
        for i, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            for stmt in (s for s in sql.split(";") if s.strip()):
                conn.execute(stmt)
            conn.execute("UPDATE access_schema SET version = ?", (i,))
            version = i
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return version


def _info(row: tuple[Any, ...]) -> KeyInfo:
    kid, name, prefix, created, revoked, bday, bmonth, rpm, tpm, tiers = row
    return KeyInfo(kid, name, prefix, created, revoked,
                   Limits(bday, bmonth, rpm, tpm, tuple(tiers.split(",")) if tiers else None))


class KeyStore:
    """Synchronous access to the key tables. One instance per thread that uses it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn = connect(path)
        migrate(self._conn)

    def close(self) -> None:
        self._conn.close()

    # ---- writes (the CLI) ----------------------------------------------------------------------

    def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            n = self._conn.execute(sql, args).rowcount
            self._conn.execute("UPDATE access_revision SET revision = revision + 1")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return n

    def create(self, name: str, limits: Limits) -> tuple[str, KeyInfo]:
        """A new key: (the key itself — shown once, never stored — and its record)."""
        if limits.tiers is not None and (not limits.tiers or any(not t or "," in t for t in limits.tiers)):
            raise BadRequestError("tiers must be non-empty tier names", hint="e.g. --tiers local,mid")
        key, kid, digest = new_key()
        info = KeyInfo(kid, name, shown_prefix(key), time.time(), None, limits)
        self._write(f"INSERT INTO access_keys ({_COLS}, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (kid, name, info.prefix, info.created, None, limits.budget_day_usd, limits.budget_month_usd,
                     limits.rpm, limits.tpm, ",".join(limits.tiers) if limits.tiers is not None else None, digest))
        return key, info

    def revoke(self, ident: str) -> KeyInfo:
        """Revoke by id (``key_…``) or by name when exactly one active key has it."""
        rows = self._conn.execute(f"SELECT {_COLS} FROM access_keys WHERE id = ? OR (name = ? AND revoked IS NULL)",
                                  (ident, ident)).fetchall()
        exact = [r for r in rows if r[0] == ident]
        if exact:
            rows = exact
        if not rows:
            raise NotFoundError(f"no API key with id or name {ident!r}", hint="see `smallfirst keys list`")
        if len(rows) > 1:
            raise BadRequestError(f"{len(rows)} active keys are named {ident!r}", hint="revoke by id (key_…)")
        info = _info(tuple(rows[0]))
        if info.revoked is None:
            self._write("UPDATE access_keys SET revoked = ? WHERE id = ?", (time.time(), info.id))
        return self.get(info.id)

    def add_usage(self, rows: Iterable[tuple[str, str, float, int, int]]) -> None:
        """Add (key id, day, USD, requests, tokens) to the daily totals, in one transaction."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany(_UPSERT_USAGE, rows)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    # ---- reads ---------------------------------------------------------------------------------

    def revision(self) -> int:
        rev: int = self._conn.execute("SELECT revision FROM access_revision").fetchone()[0]
        return rev

    def get(self, kid: str) -> KeyInfo:
        row = self._conn.execute(f"SELECT {_COLS} FROM access_keys WHERE id = ?", (kid,)).fetchone()
        if row is None:
            raise NotFoundError(f"no API key with id {kid!r}", hint="see `smallfirst keys list`")
        return _info(tuple(row))

    def keys(self, *, include_revoked: bool = True) -> list[KeyInfo]:
        where = "" if include_revoked else " WHERE revoked IS NULL"
        return [_info(tuple(r)) for r in
                self._conn.execute(f"SELECT {_COLS} FROM access_keys{where} ORDER BY created").fetchall()]

    def active_by_hash(self) -> tuple[int, int, dict[str, KeyInfo]]:
        """(revision, number of keys ever created, {sha256: key} of unrevoked keys), in one snapshot."""
        self._conn.execute("BEGIN")
        try:
            rev = self.revision()
            rows = self._conn.execute(f"SELECT {_COLS}, hash FROM access_keys WHERE revoked IS NULL").fetchall()
            (total,) = self._conn.execute("SELECT COUNT(*) FROM access_keys").fetchone()
        finally:
            self._conn.execute("COMMIT")
        return rev, int(total), {r[-1]: _info(tuple(r[:-1])) for r in rows}

    def spend(self, day: str, month: str) -> dict[str, tuple[float, float]]:
        """Per key id: (USD spent on ``day``, USD spent in ``month``). Days are ``YYYY-MM-DD`` (UTC)."""
        out: dict[str, tuple[float, float]] = {}
        for kid, d, m in self._conn.execute(
                "SELECT key_id, SUM(CASE WHEN day = ? THEN cost_usd ELSE 0 END), SUM(cost_usd) FROM access_usage "
                "WHERE day >= ? AND day < ? GROUP BY key_id", (day, month + "-01", month + "-99")):
            out[kid] = (float(d), float(m))
        return out

    def usage(self, day: str, month: str) -> dict[str, tuple[float, float, int]]:
        """Per key id: (USD today, USD this month, requests this month) for listings."""
        out: dict[str, tuple[float, float, int]] = {}
        for kid, d, m, n in self._conn.execute(
                "SELECT key_id, SUM(CASE WHEN day = ? THEN cost_usd ELSE 0 END), SUM(cost_usd), SUM(requests) "
                "FROM access_usage WHERE day >= ? AND day < ? GROUP BY key_id", (day, month + "-01", month + "-99")):
            out[kid] = (float(d), float(m), int(n))
        return out
