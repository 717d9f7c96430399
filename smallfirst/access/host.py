"""HostAccess: budgets and rate limits shared by the worker processes of one host, through SQLite.

``smallfirst serve --workers N`` (N > 1) runs N processes on one port; each has its own access layer.
Kept in memory, a key's requests/min, tokens/min and USD budgets would each be enforced once per
process — N times the limit. :class:`HostAccess` keeps the state of *limited* keys in the request
log's SQLite file (WAL), next to the key table the workers already share:

* ``access_host_state`` — per key: the two token buckets (level and when it was last refilled, wall
  clock) and the USD ledger (day, spent today / this month, reserved by requests in flight);
* ``access_host_grants`` — one row per reservation in flight (which worker holds it, what it holds).

A limited request is checked and reserved in one ``BEGIN IMMEDIATE`` transaction (the file's write
lock orders the workers, so racing requests in any worker cannot both pass a check only one fits),
with the same token-bucket and budget rules as in memory; settlement gives unused tokens back,
moves the logged cost from reserved to spent and adds it to ``access_usage`` in one transaction.
Both run on one thread per worker, off the event loop. A key without limits needs no transaction:
it takes the in-memory path (authentication reads the shared key table as in one process).

Reservations of a worker that died are released by the supervisor (:func:`release`), and any older
than an hour by a sweep. The buckets refill by the wall clock, so the workers' clocks agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from smallfirst.access.gate import GRANT_MAX_AGE_S, Access
from smallfirst.access.keys import KeyInfo
from smallfirst.access.keystore import KeyStore
from smallfirst.access.limits import Ledger, TokenBucket, utc_day
from smallfirst.config.schema import AccessConfig
from smallfirst.core.errors import SmallfirstError
from smallfirst.core.tiers import Tier
from smallfirst.core.types import OPEN, Admission, ChatRequest, RequestRecord
from smallfirst.store.sqlite import connect

log = logging.getLogger("smallfirst.access")
SWEEP_EVERY_S = 60.0
_TRIES = 3

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS access_host_state (
        key_id TEXT PRIMARY KEY, day TEXT NOT NULL, spent_day REAL NOT NULL, spent_month REAL NOT NULL,
        reserved REAL NOT NULL, requests REAL, tokens REAL, stamp REAL NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS access_host_grants (
        id TEXT PRIMARY KEY, key_id TEXT NOT NULL, pid INTEGER NOT NULL, day TEXT NOT NULL,
        cost REAL NOT NULL, created REAL NOT NULL) WITHOUT ROWID""",
)
_SAVE = ("INSERT OR REPLACE INTO access_host_state (key_id, day, spent_day, spent_month, reserved, requests, tokens, "
         "stamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
# the state row's day only moves forward: the cost counts today if reserved today, this month if this month
_SETTLE = ("UPDATE access_host_state SET reserved = MAX(0, reserved - ?), "
           "spent_day = spent_day + CASE WHEN day = ? THEN ? ELSE 0 END, "
           "spent_month = spent_month + CASE WHEN substr(day, 1, 7) = ? THEN ? ELSE 0 END, "
           "tokens = CASE WHEN tokens IS NULL THEN NULL ELSE MIN(?, tokens + ?) END WHERE key_id = ?")
_USAGE = """
    INSERT INTO access_usage (key_id, day, cost_usd, requests, tokens) VALUES (?, ?, ?, 1, ?)
    ON CONFLICT (key_id, day) DO UPDATE SET cost_usd = cost_usd + excluded.cost_usd,
        requests = requests + 1, tokens = tokens + excluded.tokens
"""


class AccessStateError(SmallfirstError):
    """The SQLite file holding the workers' shared budgets and rate limits cannot be written."""

    status = 503
    error_type = "server_error"
    code = "access_store_unavailable"
    retryable = True
    retry_after_s = 1.0


@dataclass(frozen=True, slots=True)
class HostGrant:
    """What one admitted request of a limited key holds in the shared tables."""

    id: str
    key_id: str
    day: str
    tokens: float  # reserved against tokens/min (0 without a token limit)
    tpm: int  # the key's tokens/min (0 without a token limit)
    cost: float  # USD reserved against the budget


@dataclass(slots=True)
class _State:
    ledger: Ledger
    requests: TokenBucket | None
    tokens: TokenBucket | None


def limited(info: KeyInfo) -> bool:
    lim = info.limits
    return any(v is not None for v in (lim.rpm, lim.tpm, lim.budget_day_usd, lim.budget_month_usd))


def prepare(path: str) -> None:
    """Create the shared tables and release every reservation (the supervisor, before any worker starts:
    nothing is in flight). Spend and bucket levels are kept."""
    conn = connect(path)
    try:
        _ensure(conn)
        _release(conn, None)
    finally:
        conn.close()


def release(path: str, pid: int) -> int:
    """Release the reservations a dead worker held; returns how many."""
    conn = connect(path)
    try:
        _ensure(conn)
        return _release(conn, pid)
    finally:
        conn.close()


def _ensure(conn: sqlite3.Connection) -> None:
    for sql in SCHEMA:
        conn.execute(sql)


def _release(conn: sqlite3.Connection, pid: int | None, older_than: float | None = None) -> int:
    where, args = "1 = 1", list[Any]()
    if older_than is not None:
        where, args = "created < ?", [older_than]
    elif pid is not None:
        where, args = "pid = ?", [pid]
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = conn.execute(f"SELECT key_id, SUM(cost), COUNT(*) FROM access_host_grants WHERE {where} "
                            "GROUP BY key_id", args).fetchall()
        conn.executemany("UPDATE access_host_state SET reserved = MAX(0, reserved - ?) WHERE key_id = ?",
                         [(usd, kid) for kid, usd, _ in rows])
        conn.execute(f"DELETE FROM access_host_grants WHERE {where}", args)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return sum(int(n) for _, _, n in rows)


class HostAccess(Access):
    """:class:`Access` whose limited keys' budgets and rate limits live in the shared SQLite file."""

    def __init__(self, path: str, tiers: Sequence[Tier], cfg: AccessConfig, *, max_escalations: int = 2,
                 clock: Callable[[], float] = time.time, mono: Callable[[], float] = time.monotonic) -> None:
        super().__init__(KeyStore(path), tiers, cfg, max_escalations=max_escalations, clock=clock, mono=mono)
        self.path = path
        self._pid = os.getpid()
        self._conn: sqlite3.Connection | None = None  # used on the pool's one thread only
        self._swept = -math.inf
        self._grants: dict[str, HostGrant] = {}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="smallfirst-access-host")
        self._pool.submit(self._db).result()  # the tables exist before the first request

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path)
            _ensure(self._conn)
        return self._conn

    # ---- admission -----------------------------------------------------------------------------

    def admit(self, info: KeyInfo | None, request: ChatRequest, request_id: str) -> Admission:
        """Blocking variant (tools and tests); the server awaits :meth:`admit_async`."""
        if info is None:
            return OPEN
        if not limited(info):
            return super().admit(info, request, request_id)
        tiers = self._candidates(info, request.model)
        tiers, grant = self._pool.submit(self._reserve, info, request, request_id, tiers).result()
        return self._admission(info, tiers, grant.tokens, grant.cost)

    async def admit_async(self, info: KeyInfo | None, request: ChatRequest, request_id: str) -> Admission:
        if info is None:
            return OPEN
        if not limited(info):
            return super().admit(info, request, request_id)
        tiers = self._candidates(info, request.model)  # 403 before any transaction
        loop = asyncio.get_running_loop()
        tiers, grant = await loop.run_in_executor(self._pool, self._reserve, info, request, request_id, tiers)
        return self._admission(info, tiers, grant.tokens, grant.cost)

    def _load(self, conn: sqlite3.Connection, info: KeyInfo, now: float) -> _State:
        lim = info.limits
        row = conn.execute("SELECT day, spent_day, spent_month, reserved, requests, tokens, stamp "
                           "FROM access_host_state WHERE key_id = ?", (info.id,)).fetchone()
        if row is None:  # first use: spend from the saved daily totals, full buckets
            day = utc_day(now)
            d, m = conn.execute("SELECT COALESCE(SUM(CASE WHEN day = ? THEN cost_usd ELSE 0 END), 0), "
                                "COALESCE(SUM(cost_usd), 0) FROM access_usage WHERE key_id = ? AND day >= ? "
                                "AND day < ?", (day, info.id, day[:7] + "-01", day[:7] + "-99")).fetchone()
            row = (day, float(d), float(m), 0.0, None, None, now)
        day, spent_day, spent_month, reserved, req_level, tok_level, stamp = row
        stamp = min(float(stamp), now)  # a clock that went back must not stop the refill

        def bucket(per_minute: int | None, level: float | None) -> TokenBucket | None:
            if per_minute is None:
                return None
            b = TokenBucket(per_minute, stamp)
            if level is not None:
                b.level = min(b.capacity, float(level))
            return b

        st = _State(Ledger(day, spent_day, spent_month, reserved), bucket(lim.rpm, req_level),
                    bucket(lim.tpm, tok_level))
        st.ledger.roll(utc_day(now))
        return st

    def _save(self, conn: sqlite3.Connection, key_id: str, st: _State, now: float) -> None:
        for b in (st.requests, st.tokens):
            if b is not None:
                b.wait(0.0, now)  # refill up to now, so the stored level goes with the stored stamp
        conn.execute(_SAVE, (key_id, st.ledger.day, st.ledger.spent_day, st.ledger.spent_month, st.ledger.reserved,
                             st.requests.level if st.requests else None, st.tokens.level if st.tokens else None, now))

    def _reserve(self, info: KeyInfo, request: ChatRequest, request_id: str,
                 tiers: list[str]) -> tuple[list[str], HostGrant]:
        """Check and reserve in one write transaction (on the pool thread)."""
        lim = info.limits
        budgeted = lim.budget_day_usd is not None or lim.budget_month_usd is not None
        prompt, out = self._estimate(request) if budgeted or lim.tpm is not None else (0.0, 0.0)
        try:
            conn = self._db()
            now = self._clock()
            if now - self._swept > SWEEP_EVERY_S:
                self._swept = now
                if n := _release(conn, None, older_than=now - GRANT_MAX_AGE_S):
                    log.warning("access: released %d reservations older than %.0f s", n, GRANT_MAX_AGE_S)
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise self._unavailable(err) from None
        try:
            st = self._load(conn, info, now)
            tiers, cost = self._check_and_take(info, st.requests, st.tokens, st.ledger, tiers, prompt + out, out,
                                               now, now)
            grant = HostGrant(f"{self._pid}:{request_id}", info.id, st.ledger.day,
                              prompt + out if st.tokens is not None else 0.0, lim.tpm or 0, cost)
            if cost > 0:
                conn.execute("INSERT OR REPLACE INTO access_host_grants VALUES (?, ?, ?, ?, ?, ?)",
                             (grant.id, info.id, self._pid, grant.day, cost, now))
            self._save(conn, info.id, st, now)
            conn.execute("COMMIT")
        except SmallfirstError:
            conn.execute("ROLLBACK")
            raise
        except sqlite3.Error as err:
            self._rollback(conn)
            raise self._unavailable(err) from None
        except BaseException:
            self._rollback(conn)
            raise
        self._grants[request_id] = grant  # before the await returns: a cancelled handler still gets settled
        if len(self._grants) > 100_000:  # settlements that never came: the sweep frees their USD
            for rid in list(self._grants)[:50_000]:
                self._grants.pop(rid, None)
        return tiers, grant

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")

    def _unavailable(self, err: sqlite3.Error) -> AccessStateError:
        return AccessStateError(f"the gateway cannot check this key's budget and rate limits: their shared state "
                                f"in {self.path} (SQLite) cannot be written: {err}",
                                hint="retry shortly; check the disk and the file's permissions")

    # ---- settlement ----------------------------------------------------------------------------

    def observe(self, record: RequestRecord) -> None:
        g = self._grants.pop(record.request_id, None)
        if g is None:
            super().observe(record)  # a key without limits (or none): the in-memory path
            return
        self._pool.submit(self._settle, g, record.cost_usd, record.prompt_tokens + record.completion_tokens)

    def _settle(self, g: HostGrant, cost_usd: float, used: int) -> None:
        """Give unused tokens back, move the reservation to spent, add to ``access_usage``: one transaction."""
        for attempt in range(_TRIES):
            conn = self._db()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    held = conn.execute("DELETE FROM access_host_grants WHERE id = ? RETURNING cost",
                                        (g.id,)).fetchone() if g.cost > 0 else None  # none: swept or released
                    conn.execute(_SETTLE, (float(held[0]) if held else 0.0, g.day, cost_usd, g.day[:7], cost_usd,
                                           g.tpm, g.tokens - used, g.key_id))
                    conn.execute(_USAGE, (g.key_id, g.day, cost_usd, used))
                    conn.execute("COMMIT")
                    return
                except BaseException:
                    self._rollback(conn)
                    raise
            except sqlite3.Error as err:
                if attempt == _TRIES - 1:
                    log.error("access: could not settle a request of %s ($%.6f): %s (its reservation is "
                              "released after %.0f s)", g.key_id, cost_usd, err, GRANT_MAX_AGE_S)
                    return
                time.sleep(0.2 * (attempt + 1))

    def snapshot(self) -> dict[str, Any]:
        """Per key id: spent today / this month and reserved — the shared rows for limited keys."""
        out = super().snapshot()

        def read() -> list[tuple[Any, ...]]:
            return self._db().execute("SELECT key_id, spent_day, spent_month, reserved FROM access_host_state"
                                      ).fetchall()

        for kid, d, m, r in self._pool.submit(read).result():
            out[kid] = {"spent_day": d, "spent_month": m, "reserved": r}
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True)  # settlements queued so far are written
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        super().close()
