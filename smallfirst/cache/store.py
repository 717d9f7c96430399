"""The cache's SQLite file: one ``entries`` table, WAL, safe for several gateway processes.

One row per (tenant, exact key): the answer (codec bytes), where it came from (tier, model), what it
cost (what each hit saves), whether the request was sensitive, and — with the semantic cache — the
contract key and the last user message's embedding (float32 bytes). Expired rows are never returned
and are deleted as new rows are written; past ``max_entries`` or ``max_bytes`` the least recently used
rows go. Statements are single-row and indexed (tens of microseconds on a local disk); another
process writing is waited on for at most ``BUSY_TIMEOUT_S``.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_S = 2.0
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries (tenant TEXT NOT NULL, key TEXT NOT NULL, contract TEXT, "
    "created REAL NOT NULL, expires REAL NOT NULL, used REAL NOT NULL, bytes INTEGER NOT NULL, "
    "sensitive INTEGER NOT NULL, tier TEXT NOT NULL, model TEXT NOT NULL, cost_usd REAL NOT NULL, "
    "hits INTEGER NOT NULL DEFAULT 0, saved_usd REAL NOT NULL DEFAULT 0, answer BLOB NOT NULL, vector BLOB, "
    "PRIMARY KEY (tenant, key))",
    "CREATE INDEX IF NOT EXISTS entries_contract ON entries (tenant, contract, used)",
    "CREATE INDEX IF NOT EXISTS entries_used ON entries (used)",
    "CREATE INDEX IF NOT EXISTS entries_expires ON entries (expires)",
)


@dataclass(frozen=True, slots=True)
class Entry:
    tenant: str
    key: str
    answer: bytes
    tier: str
    model: str
    cost_usd: float
    created: float
    sensitive: bool = False
    contract: str | None = None
    vector: bytes | None = None


class CacheStore:
    """Thread-safe (one connection behind a lock)."""

    def __init__(self, path: str, max_entries: int, max_bytes: int) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        for stmt in _SCHEMA:
            self._conn.execute(stmt)

    def get(self, tenant: str, key: str, now: float) -> Entry | None:
        with self._lock:
            row = self._conn.execute("SELECT answer, tier, model, cost_usd, created, sensitive FROM entries "
                                     "WHERE tenant = ? AND key = ? AND expires > ?", (tenant, key, now)).fetchone()
        if row is None:
            return None
        return Entry(tenant, key, row[0], row[1], row[2], row[3], row[4], bool(row[5]))

    def hit(self, tenant: str, key: str, now: float, saved: float) -> None:
        with self._lock:
            self._conn.execute("UPDATE entries SET hits = hits + 1, saved_usd = saved_usd + ?, used = ? "
                               "WHERE tenant = ? AND key = ?", (saved, now, tenant, key))

    def has_contract(self, tenant: str, contract: str, now: float) -> bool:
        """Is there any live entry with this contract (the semantic cache's cheap pre-check)?"""
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM entries WHERE tenant = ? AND contract = ? AND expires > ? "
                                     "AND vector IS NOT NULL LIMIT 1", (tenant, contract, now)).fetchone()
        return row is not None

    def vectors(self, tenant: str, contract: str, now: float, limit: int) -> list[tuple[str, bytes]]:
        """(key, vector) of the live entries with this contract, most recently used first."""
        with self._lock:
            rows = self._conn.execute("SELECT key, vector FROM entries WHERE tenant = ? AND contract = ? AND "
                                      "expires > ? AND vector IS NOT NULL ORDER BY used DESC LIMIT ?",
                                      (tenant, contract, now, limit)).fetchall()
        return [(k, v) for k, v in rows]

    def put(self, e: Entry, now: float, ttl_s: float) -> None:
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute("DELETE FROM entries WHERE expires <= ?", (now,))
                c.execute("INSERT OR REPLACE INTO entries (tenant, key, contract, created, expires, used, bytes, "
                          "sensitive, tier, model, cost_usd, answer, vector) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          (e.tenant, e.key, e.contract, e.created, now + ttl_s, now, len(e.answer) +
                           len(e.vector or b""), int(e.sensitive), e.tier, e.model, e.cost_usd, e.answer, e.vector))
                n, size = c.execute("SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM entries").fetchone()
                if n > self.max_entries or size > self.max_bytes:
                    self._evict(n, size, (e.tenant, e.key))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def _evict(self, n: int, size: int, keep: tuple[str, str]) -> None:
        """Delete least recently used rows (never ``keep``, the row just written) until both limits hold."""
        c = self._conn
        while n > self.max_entries or size > self.max_bytes:
            rows = c.execute("SELECT tenant, key, bytes FROM entries WHERE NOT (tenant = ? AND key = ?) "
                             "ORDER BY used ASC LIMIT ?", (*keep, max(1, n - self.max_entries))).fetchall()
            if not rows:
                return
            c.executemany("DELETE FROM entries WHERE tenant = ? AND key = ?", [(t, k) for t, k, _ in rows])
            n -= len(rows)
            size -= sum(b for _, _, b in rows)

    def stats(self, now: float) -> dict[str, Any]:
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(bytes), 0), COALESCE(SUM(hits), 0), COALESCE(SUM(saved_usd), 0), "
                "COALESCE(SUM(expires <= ?), 0), COALESCE(SUM(sensitive), 0), COALESCE(SUM(vector IS NOT NULL), 0), "
                "COUNT(DISTINCT tenant) FROM entries", (now,)).fetchone()
        keys = ("entries", "bytes", "hits", "saved_usd", "expired", "sensitive", "with_vector", "tenants")
        return dict(zip(keys, row, strict=True))

    def clear(self, tenant: str | None = None) -> int:
        with self._lock:
            cur = (self._conn.execute("DELETE FROM entries") if tenant is None else
                   self._conn.execute("DELETE FROM entries WHERE tenant = ?", (tenant,)))
        return cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()
