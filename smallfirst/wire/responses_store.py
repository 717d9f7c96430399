"""Responses kept on the host for ``previous_response_id`` (opt-in: ``[responses] store = true``).

One table, ``responses``, in the SQLite file of the request log (``log.path``): per response id, the
gateway key that made it and the conversation so far in the gateway's internal (chat) form — the
earlier turns, this turn's input without its ``instructions``, and the answer. A row is found only by
the key that made it and only until it expires (``[responses] ttl_s``); expired rows are deleted as new
ones are written. Each row holds the whole conversation, so a chain does not depend on older rows.
Reads and writes are single-row statements on the event loop (well under a millisecond on a local
disk); a busy file (another worker writing) is waited on for at most ``BUSY_TIMEOUT_S``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

BUSY_TIMEOUT_S = 2.0
_SCHEMA = ("CREATE TABLE IF NOT EXISTS responses (id TEXT PRIMARY KEY, key_id TEXT, created REAL NOT NULL, "
           "expires REAL NOT NULL, model TEXT NOT NULL, messages BLOB NOT NULL)",
           "CREATE INDEX IF NOT EXISTS responses_expires ON responses (expires)")


class ResponseStore:
    """Kept conversations by response id. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: str, ttl_s: float, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        for stmt in _SCHEMA:
            self._conn.execute(stmt)

    def get(self, response_id: str, key_id: str | None) -> list[dict[str, Any]] | None:
        """The conversation kept under ``response_id`` for this key, or None (unknown, another key's, expired)."""
        with self._lock:
            row = self._conn.execute("SELECT messages FROM responses WHERE id = ? AND key_id IS ? AND expires > ?",
                                     (response_id, key_id, self._clock())).fetchone()
        if row is None:
            return None
        messages: list[dict[str, Any]] = orjson.loads(row[0])
        return messages

    def put(self, response_id: str, key_id: str | None, model: str, messages: list[dict[str, Any]]) -> None:
        now = self._clock()
        blob = orjson.dumps(messages)
        with self._lock:
            self._conn.execute("DELETE FROM responses WHERE expires <= ?", (now,))
            self._conn.execute("INSERT OR REPLACE INTO responses (id, key_id, created, expires, model, messages) "
                               "VALUES (?, ?, ?, ?, ?, ?)", (response_id, key_id, now, now + self.ttl_s, model, blob))

    def count(self) -> int:
        with self._lock:
            n: int = self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        return n

    def close(self) -> None:
        with self._lock:
            self._conn.close()
