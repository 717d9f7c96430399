"""SharedAccess: keys, budgets and rate limits in PostgreSQL, shared by gateway replicas.

Selected by ``[access] shared = true`` (with ``log.url``). Same per-request steps as
:class:`~smallfirst.access.gate.Access`, with the state in the log's PostgreSQL database:

1. :meth:`authenticate` never touches the database: a background thread reads the key table's
   revision every ``refresh_ms`` (at least 10 ms) and reloads the keys when it changed, so a key
   created or revoked through any replica or ``smallfirst keys`` applies everywhere within that
   time. If that thread has not reached PostgreSQL for :data:`STALE_AFTER_S` (or 5 refresh
   intervals, whichever is longer), every request gets ``503 access_store_unavailable`` — fail
   closed: never serve on a key table that may miss revocations.
2. :meth:`admit_async` reserves the key's rate limits and budget in one transaction
   (:func:`smallfirst.access.ledger.reserve`) on a small thread pool, so the event loop never
   blocks; a key without limits needs no round trip. A database error is a ``503`` naming it.
3. :meth:`observe` settles in the background (pool); usage of keys without limits is batched.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from smallfirst.access import ledger
from smallfirst.access.gate import GRANT_MAX_AGE_S, Access
from smallfirst.access.keys import KeyInfo
from smallfirst.access.keystore import KeyStore
from smallfirst.access.limits import Ledger, utc_day
from smallfirst.access.pgstore import PgKeyStore, cause, pg_connect
from smallfirst.config.schema import AccessConfig, Settings
from smallfirst.core.errors import BudgetExceededError, ConfigError, SmallfirstError
from smallfirst.core.tiers import Tier
from smallfirst.core.types import OPEN, Admission, ChatRequest, RequestRecord
from smallfirst.store.postgres import redact

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("smallfirst.access")
STALE_AFTER_S = 2.0  # no successful key-table read for this long → fail closed (503)
SWEEP_EVERY_S = 60.0


class AccessStoreUnavailableError(SmallfirstError):
    """Shared mode: the PostgreSQL database holding keys, budgets and rate limits cannot be reached."""

    status = 503
    error_type = "server_error"
    code = "access_store_unavailable"
    retryable = True
    retry_after_s = 1.0


class _Conns:
    """One autocommit connection per pool thread, opened on first use, dropped after an error."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[psycopg.Connection[tuple[Any, ...]]] = []

    def get(self) -> psycopg.Connection[tuple[Any, ...]]:
        conn: psycopg.Connection[tuple[Any, ...]] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = pg_connect(self.url)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._lock:
            for c in self._all:
                c.close()
            self._all.clear()


class SharedAccess(Access):
    def __init__(self, url: str, tiers: Sequence[Tier], cfg: AccessConfig, *, max_escalations: int = 2,
                 clock: Callable[[], float] = time.time, mono: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        keys = PgKeyStore(url)  # a ConfigError at start-up when PostgreSQL is unreachable
        self._ok_until = mono() + 3600.0  # until the first read below
        self._fault = ""
        super().__init__(keys, tiers, cfg, max_escalations=max_escalations, clock=clock, mono=mono)
        self._interval = max(0.01, cfg.refresh_ms / 1000.0)
        self._grace = max(STALE_AFTER_S, 5 * self._interval)
        self._reload(keys, mono())
        self._ok_until = mono() + self._grace
        self._grants: dict[str, ledger.SharedGrant] = {}
        self._replica = os.urandom(6).hex()
        self._conns = _Conns(url)
        self._pool = ThreadPoolExecutor(cfg.shared_connections, thread_name_prefix="smallfirst-access")
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, args=(keys,), name="smallfirst-access-keys", daemon=True)
        self._poller.start()

    def _spend_store(self) -> KeyStore:
        return PgKeyStore(self.url)

    # ---- key table: a background thread; authenticate only checks it is fresh --------------------

    def _refresh(self) -> None:
        if self._mono() > self._ok_until:
            raise self._unavailable(self._fault or "no answer to the key-table check in time")

    def _poll(self, store: PgKeyStore | None) -> None:
        import psycopg

        swept = self._mono()
        while not self._stop.wait(self._interval):
            try:
                if store is None:
                    store = PgKeyStore(self.url)
                self._reload(store, self._mono())
                if self._fault:
                    log.warning("shared access: PostgreSQL is reachable again")
                self._ok_until, self._fault = self._mono() + self._grace, ""
                if self._mono() - swept > SWEEP_EVERY_S:
                    swept = self._mono()
                    ledger.sweep(store._pg, self._clock(), GRANT_MAX_AGE_S)
            except (psycopg.Error, ConfigError) as err:
                fault = err.message if isinstance(err, ConfigError) else cause(err)
                if not self._fault:  # once per outage, not every refresh
                    log.warning("shared access: PostgreSQL key-table check failed (requests get 503 after %.1f s "
                                "without an answer): %s", self._grace, fault)
                self._fault = fault
                if store is not None:
                    store.close()
                    store = None
        if store is not None:
            store.close()

    def _unavailable(self, why: str) -> AccessStoreUnavailableError:
        return AccessStoreUnavailableError(
            f"the gateway cannot check API keys, budgets and rate limits: their shared store in PostgreSQL "
            f"({redact(self.url)}) is unreachable: {why}",
            hint="requests are refused until it is back ([access] shared = true fails closed); retry shortly")

    # ---- admission -------------------------------------------------------------------------------

    def admit(self, info: KeyInfo | None, request: ChatRequest, request_id: str) -> Admission:
        """Blocking variant (tools and tests); the server awaits :meth:`admit_async`."""
        if info is None:
            return OPEN
        tiers = self._candidates(info, request.model)
        if not self._limited(info):
            return self._admitted(info, request, request_id, tiers, None)
        got, grant = self._reserve(info, request, request_id, tiers)
        return self._admitted(info, request, request_id, got if got is not None else tiers, grant)

    async def admit_async(self, info: KeyInfo | None, request: ChatRequest, request_id: str) -> Admission:
        if info is None:
            return OPEN
        tiers = self._candidates(info, request.model)
        if not self._limited(info):
            return self._admitted(info, request, request_id, tiers, None)
        loop = asyncio.get_running_loop()
        got, grant = await loop.run_in_executor(self._pool, self._reserve, info, request, request_id, tiers)
        return self._admitted(info, request, request_id, got if got is not None else tiers, grant)

    @staticmethod
    def _limited(info: KeyInfo) -> bool:
        lim = info.limits
        return any(v is not None for v in (lim.rpm, lim.tpm, lim.budget_day_usd, lim.budget_month_usd))

    def _reserve(self, info: KeyInfo, request: ChatRequest, request_id: str,
                 tiers: list[str]) -> tuple[list[str] | None, ledger.SharedGrant]:
        import psycopg

        prompt, out = self._estimate(request)
        now = self._clock()

        def over(ledger_: Ledger, window: str) -> BudgetExceededError:
            return self._over_budget(info, ledger_, window, now)

        try:
            conn = self._conns.get()
            return ledger.reserve(conn, grant_id=f"{self._replica}:{request_id}", key_id=info.id, label=info.label,
                                  limits=info.limits, day=utc_day(now), minute=int(now // 60), elapsed=now % 60,
                                  tokens=prompt + out, now=now,
                                  choose=lambda left: self._affordable(tiers, prompt, out, left), over_budget=over)
        except psycopg.Error as err:
            self._conns.drop()
            raise self._unavailable(cause(err)) from None

    def _admitted(self, info: KeyInfo, request: ChatRequest, request_id: str, tiers: list[str],
                  grant: ledger.SharedGrant | None) -> Admission:
        now = self._clock()
        grant = grant or ledger.SharedGrant("", info.id, utc_day(now), 0, 0.0, 0.0, False)
        self._grants[request_id] = grant
        if len(self._grants) > 100_000:  # settlements that never came (a crashed handler): the sweep frees them
            for rid in list(self._grants)[:50_000]:
                del self._grants[rid]
        return self._admission(info, tiers, grant.tokens, grant.cost)

    # ---- settlement ------------------------------------------------------------------------------

    def observe(self, record: RequestRecord) -> None:
        g = self._grants.pop(record.request_id, None)
        if g is None:
            return
        used = record.prompt_tokens + record.completion_tokens
        if g.budgeted or g.tokens:
            self._pool.submit(self._settle, g, record.cost_usd, used)
        else:
            self._writer.put((g.key_id, g.day, record.cost_usd, 1, used))

    def _settle(self, g: ledger.SharedGrant, cost_usd: float, used: int) -> None:
        import psycopg

        for attempt in range(3):
            try:
                ledger.settle(self._conns.get(), g, cost_usd, used)
                return
            except psycopg.Error as err:
                self._conns.drop()
                if attempt == 2:
                    log.error("shared access: could not settle a request of %s ($%.6f): %s (its reservation is "
                              "released after %.0f s)", g.key_id, cost_usd, cause(err), GRANT_MAX_AGE_S)
                    return
                time.sleep(0.2 * (attempt + 1))

    def snapshot(self) -> dict[str, Any]:
        """Per key id: USD spent today / this month and reserved, read from PostgreSQL."""
        conn = pg_connect(self.url)
        try:
            return dict(ledger.budget_snapshot(conn, utc_day(self._clock())))
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._poller.join()
        self._pool.shutdown(wait=True)
        self._conns.close()
        self._writer.close()


def open_access(settings: Settings, tiers: Sequence[Tier]) -> Access:
    """The gateway's access layer for ``settings``: in memory with keys in ``log.path`` (default), shared
    through the PostgreSQL database of ``log.url`` with ``[access] shared = true``, or — one of several
    worker processes (``server.workers`` > 1) — limits shared through the SQLite file at ``log.path``."""
    if settings.access.shared and settings.log.url is not None:
        return SharedAccess(settings.log.url, tiers, settings.access,
                            max_escalations=settings.routing.max_escalations)
    if (settings.server.workers or 1) > 1:
        from smallfirst.access.host import HostAccess

        return HostAccess(settings.log.path, tiers, settings.access, max_escalations=settings.routing.max_escalations)
    return Access.open(settings.log.path, tiers, settings.access, max_escalations=settings.routing.max_escalations)


def open_keystore(settings: Settings, db: str | None = None) -> KeyStore:
    """The key table ``smallfirst keys`` works on: ``db`` (a SQLite file) when given, else PostgreSQL
    (``log.url``) with ``[access] shared = true``, else the SQLite file at ``log.path``."""
    if db is None and settings.access.shared and settings.log.url is not None:
        return PgKeyStore(settings.log.url)
    return KeyStore(db if db is not None else settings.log.path)
