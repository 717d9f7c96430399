"""Access: the gateway's per-request key check, rate limits and budgets — all in memory.

(The default. ``[access] shared = true`` selects :class:`~smallfirst.access.shared.SharedAccess`,
which keeps the same steps' state in PostgreSQL for replicas; the server awaits :meth:`Access.admit_async`.)

Per request the gateway calls, on its event loop and with no ``await`` in between:

1. :meth:`Access.authenticate` — SHA-256 of the bearer token, one dict lookup (401 when the token
   is missing, unknown or revoked, once any key has been created or with ``[access] require_keys``;
   revoking the last key does not open the gateway). Every ``refresh_ms`` it reads the key table's
   revision counter (one integer) and reloads the keys when a ``smallfirst keys`` command changed
   them, so revocation applies within that time.
2. :meth:`Access.admit` — requests/min and tokens/min token buckets and the USD day/month budget:
   check, then reserve (1 request, estimated tokens, an upper bound of the cost over the tiers
   the key may use). When the budget cannot cover the expensive tiers, they are dropped (the
   request stays on cheaper ones); when it covers none, 429. It returns an
   :class:`~smallfirst.core.types.Admission` (key id, tiers it may use, what was reserved) that the
   server passes to the engine, which keeps the request on those tiers.
3. :meth:`Access.observe` (an engine record observer) — settles the reservation against the
   logged cost and tokens, and queues the spend for a background thread that saves it to
   ``access_usage`` every ``flush_interval_s`` (and on close).
"""

from __future__ import annotations

import contextlib
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from smallfirst.access.keys import KeyInfo, bearer, hash_key
from smallfirst.access.keystore import KeyStore
from smallfirst.access.limits import Ledger, TokenBucket, seconds_to_next_day, seconds_to_next_month, utc_day
from smallfirst.config.schema import AccessConfig
from smallfirst.core.errors import (
    AuthenticationError,
    BudgetExceededError,
    PermissionDeniedError,
    RateLimitError,
    SmallfirstError,
)
from smallfirst.core.tiers import Tier
from smallfirst.core.types import AUTO_MODEL, MODEL_PREFIX, OPEN, Admission, ChatRequest, RequestRecord

GRANT_MAX_AGE_S = 3600.0  # a reservation never settled (a crashed handler) is released after this


@dataclass(slots=True)
class KeyState:
    info: KeyInfo
    ledger: Ledger
    requests: TokenBucket | None
    tokens: TokenBucket | None


@dataclass(frozen=True, slots=True)
class Grant:
    key_id: str
    tokens: float
    cost: float
    day: str
    t: float


def _states_for(info: KeyInfo, day: str, spent: tuple[float, float], now: float) -> KeyState:
    lim = info.limits
    return KeyState(info, Ledger(day, spent[0], spent[1]),
                    TokenBucket(lim.rpm, now) if lim.rpm is not None else None,
                    TokenBucket(lim.tpm, now) if lim.tpm is not None else None)


class SpendWriter:
    """A daemon thread that sums queued (key, day, USD, requests, tokens) and saves them in batches."""

    def __init__(self, opener: Callable[[], KeyStore], interval_s: float) -> None:
        self._open = opener
        self._interval = interval_s
        self._q: queue.SimpleQueue[tuple[str, str, float, int, int]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def put(self, item: tuple[str, str, float, int, int]) -> None:
        self._q.put(item)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="smallfirst-spend-writer", daemon=True)
            self._thread.start()

    def _drain(self, store: KeyStore) -> None:
        sums: dict[tuple[str, str], list[float]] = {}
        with contextlib.suppress(queue.Empty):
            while True:
                kid, day, usd, n, tok = self._q.get_nowait()
                s = sums.setdefault((kid, day), [0.0, 0, 0])
                s[0] += usd
                s[1] += n
                s[2] += tok
        if sums:
            store.add_usage((k, d, s[0], int(s[1]), int(s[2])) for (k, d), s in sums.items())

    def _run(self) -> None:
        store = self._open()
        try:
            while not self._stop.wait(self._interval):
                self._drain(store)
            self._drain(store)
        finally:
            store.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class Access:
    def __init__(self, store: KeyStore, tiers: Sequence[Tier], cfg: AccessConfig, *, max_escalations: int = 2,
                 clock: Callable[[], float] = time.time, mono: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.require = cfg.require_keys
        self._store = store
        self._clock = clock
        self._mono = mono
        self._interval = cfg.refresh_ms / 1000.0
        self._chain = max_escalations + 1
        self._order = [t.name for t in tiers]
        self._price: dict[str, tuple[float, float]] = {}  # tier → (max USD/input token, max USD/output token)
        for t in tiers:
            prices = [e.price for e in t.endpoints if e.price is not None]
            self._price[t.name] = (max((p.input_per_mtok for p in prices), default=0.0) / 1e6,
                                   max((p.output_per_mtok for p in prices), default=0.0) / 1e6)
        self._tier_of: dict[str, str] = {}
        for t in tiers:
            for e in t.endpoints:
                self._tier_of.setdefault(e.backend.model, t.name)
                self._tier_of.setdefault(e.backend.name, t.name)
        self._by_hash: dict[str, KeyInfo] = {}
        self._states: dict[str, KeyState] = {}
        self._pending: dict[str, Grant] = {}
        self._revision = -1
        self._enforcing = cfg.require_keys
        self._checked = -math.inf
        self._swept = mono()
        self._writer = SpendWriter(self._spend_store, cfg.flush_interval_s)
        self._refresh()

    @classmethod
    def open(cls, path: str, tiers: Sequence[Tier], cfg: AccessConfig, *, max_escalations: int = 2) -> Access:
        return cls(KeyStore(path), tiers, cfg, max_escalations=max_escalations)

    def _spend_store(self) -> KeyStore:
        """A new connection to the key tables, for the spend writer's thread."""
        return KeyStore(self._store.path)

    # ---- key table -----------------------------------------------------------------------------

    def _refresh(self) -> None:
        now = self._mono()
        if now - self._checked < self._interval:
            return
        self._checked = now
        try:
            self._reload(self._store, now)
        except sqlite3.Error:
            return  # keep serving with the keys already loaded; the next check tries again

    def _reload(self, store: KeyStore, now: float) -> None:
        """Reload the keys from ``store`` when its revision changed."""
        if store.revision() == self._revision:
            return
        rev, total, by_hash = store.active_by_hash()
        day = utc_day(self._clock())
        spent = store.spend(day, day[:7])
        states: dict[str, KeyState] = {}
        for info in by_hash.values():
            old = self._states.get(info.id)
            if old is not None and old.info.limits == info.limits:
                old.info = info
                states[info.id] = old
            else:
                states[info.id] = _states_for(info, day, spent.get(info.id, (0.0, 0.0)), now)
        self._by_hash, self._states, self._revision = by_hash, states, rev
        self._enforcing = self.require or total > 0  # revoking the last key must not open the gateway

    @property
    def enforcing(self) -> bool:
        return self._enforcing

    def authenticate(self, headers: Iterable[tuple[bytes, bytes]]) -> KeyInfo | None:
        """The caller's key, or None when the gateway is open (no keys and not required)."""
        self._refresh()
        if not self._enforcing:
            return None
        token = bearer(headers)
        if token is None:
            raise AuthenticationError("this gateway needs an API key: send Authorization: Bearer sf-… "
                                      "(or x-api-key: sf-…)",
                                      hint="ask the operator for a key (`smallfirst keys create NAME`)")
        info = self._by_hash.get(hash_key(token))
        if info is None:
            raise AuthenticationError("the API key is not valid (unknown or revoked)",
                                      hint="check the key, or ask the operator for a new one")
        return info

    # ---- admission -----------------------------------------------------------------------------

    def _candidates(self, info: KeyInfo, model: str) -> list[str]:
        allowed = info.limits.tiers
        tiers = self._order if allowed is None else [t for t in self._order if t in allowed]
        pinned = None
        if model.startswith(MODEL_PREFIX) and model != AUTO_MODEL:
            pinned = model[len(MODEL_PREFIX):] if model[len(MODEL_PREFIX):] in self._price else None
        elif model != AUTO_MODEL:
            pinned = self._tier_of.get(model)
        if pinned is None:
            return tiers
        if pinned not in tiers:
            raise PermissionDeniedError(f"API key {info.label} may not use tier {pinned!r}",
                                        hint=f"use smallfirst/auto or a tier it allows: {', '.join(tiers) or 'none'}")
        return [pinned]

    def _chain_cost(self, tiers: Sequence[str], prompt: float, out: float) -> float:
        costs = sorted((self._price[t][0] * prompt + self._price[t][1] * out for t in tiers), reverse=True)
        return sum(costs[: self._chain])

    def _affordable(self, tiers: list[str], prompt: float, out: float, left: float) -> tuple[list[str], float]:
        """Drop the most expensive tiers until an upper bound of the chain's cost fits ``left`` USD."""
        s = list(tiers)
        while s:
            est = self._chain_cost(s, prompt, out)
            if est <= 0.0 or est <= left:
                return s, est
            s.remove(max(s, key=lambda t: self._price[t][0] * prompt + self._price[t][1] * out))
        return [], 0.0

    def admit(self, info: KeyInfo | None, request: ChatRequest, request_id: str) -> Admission:
        """Check and reserve the key's limits; return the admission (the tiers it may use, what is held)."""
        if info is None:
            return OPEN
        st = self._states.get(info.id)
        if st is None:  # a key loaded between two refreshes never lacks a state; be safe anyway
            st = self._states[info.id] = _states_for(info, utc_day(self._clock()), (0.0, 0.0), self._mono())
        lim = info.limits
        now, mono = self._clock(), self._mono()
        tiers = self._candidates(info, request.model)
        budgeted = lim.budget_day_usd is not None or lim.budget_month_usd is not None
        prompt, out = self._estimate(request) if budgeted or st.tokens is not None else (0.0, 0.0)
        if budgeted:
            st.ledger.roll(utc_day(now))
        # no await from here to the reservation, so no other request interleaves
        tiers, cost = self._check_and_take(info, st.requests, st.tokens, st.ledger, tiers, prompt + out, out, mono,
                                           now)
        self._pending[request_id] = Grant(info.id, prompt + out, cost, st.ledger.day, mono)
        if mono - self._swept > 60.0:
            self._sweep(mono)
        return self._admission(info, tiers, prompt + out, cost)

    def _check_and_take(self, info: KeyInfo, requests: TokenBucket | None, tokens: TokenBucket | None,
                        ledger: Ledger, tiers: list[str], need: float, out: float, t: float, now: float
                        ) -> tuple[list[str], float]:
        """The key's checks, then its reservation: 1 request and ``need`` tokens against the buckets (at time ``t``
        of their clock), an upper bound of the cost over the tiers it keeps against the budget left (429 before
        anything is taken). Returns the tiers the budget covers and the USD reserved."""
        lim = info.limits
        if requests is not None and (wait := requests.wait(1, t)) > 0:
            raise RateLimitError(f"API key {info.label} is over its limit of {lim.rpm} requests per minute; "
                                 f"retry in {math.ceil(wait)} s", hint="slow down, or ask for a higher limit",
                                 retry_after_s=wait)
        if tokens is not None and (wait := tokens.wait(need, t)) > 0:
            raise RateLimitError(f"API key {info.label} is over its limit of {lim.tpm} tokens per minute "
                                 f"(this request may use about {round(need)}); retry in {math.ceil(wait)} s",
                                 hint="slow down, lower max_tokens, or ask for a higher limit", retry_after_s=wait)
        cost = 0.0
        if lim.budget_day_usd is not None or lim.budget_month_usd is not None:
            left, window = ledger.remaining(lim.budget_day_usd, lim.budget_month_usd)
            tiers, cost = self._affordable(tiers, need - out, out, left)
            if not tiers:
                raise self._over_budget(info, ledger, window or "day", now)
        if requests is not None:
            requests.take(1)
        if tokens is not None:
            tokens.take(need)
        ledger.reserved += cost
        return tiers, cost

    async def admit_async(self, info: KeyInfo | None, request: ChatRequest, request_id: str) -> Admission:
        """What the server awaits. In memory this is :meth:`admit` (nothing to wait for, no suspension
        between check and reservation); the shared (PostgreSQL) variant waits off the event loop."""
        return self.admit(info, request, request_id)

    def _estimate(self, request: ChatRequest) -> tuple[float, float]:
        """(prompt tokens, output tokens) to reserve: generous (tokens ≈ chars / 4, counted as / 3)."""
        prompt = len(request.text()) / 3.0 + 4.0 * len(request.messages)
        out = float(request.max_tokens or request.body.get("max_completion_tokens") or self.cfg.reserve_output_tokens)
        return prompt, out

    def _admission(self, info: KeyInfo, tiers: Sequence[str], tokens: float, cost: float) -> Admission:
        """The key id, the tiers it may use (None when that is every tier) and what was reserved."""
        return Admission(info.id, tuple(tiers) if len(tiers) < len(self._order) else None, tokens, cost)

    def _over_budget(self, info: KeyInfo, ledger: Ledger, window: str, now: float) -> BudgetExceededError:
        lim = info.limits
        budget = lim.budget_day_usd if window == "day" else lim.budget_month_usd
        spent = ledger.spent_day if window == "day" else ledger.spent_month
        wait = seconds_to_next_day(now) if window == "day" else seconds_to_next_month(now)
        held = f" (${ledger.reserved:.4f} more is held by requests in flight)" if ledger.reserved > 0 else ""
        period = "daily" if window == "day" else "monthly"
        return BudgetExceededError(
            f"API key {info.label} has spent ${spent:.4f} of its ${budget:g} {period} budget{held}; "
            "no tier it may use fits what is left",
            hint=f"the budget resets at the start of the next UTC {window} (in {_human(wait)}); "
                 "or ask for a larger budget", retry_after_s=wait)

    def _sweep(self, mono: float) -> None:
        self._swept = mono
        for rid in [r for r, g in self._pending.items() if mono - g.t > GRANT_MAX_AGE_S]:
            g = self._pending.pop(rid)
            st = self._states.get(g.key_id)
            if st is not None:
                st.ledger.settle(g.cost, 0.0, g.day)

    # ---- settlement ----------------------------------------------------------------------------

    def observe(self, record: RequestRecord) -> None:
        """Engine record observer: settle the request's reservation with what it really used."""
        g = self._pending.pop(record.request_id, None)
        if g is None:
            return
        used = record.prompt_tokens + record.completion_tokens
        st = self._states.get(g.key_id)
        if st is not None:
            if st.tokens is not None:
                st.tokens.give(g.tokens - used)
            st.ledger.roll(utc_day(self._clock()))
            st.ledger.settle(g.cost, record.cost_usd, g.day)
        self._writer.put((g.key_id, g.day, record.cost_usd, 1, used))

    def snapshot(self) -> dict[str, Any]:
        """Per key id: what the gateway holds in memory (for tests and the admin view)."""
        return {kid: {"spent_day": s.ledger.spent_day, "spent_month": s.ledger.spent_month,
                      "reserved": s.ledger.reserved} for kid, s in self._states.items()}

    def close(self) -> None:
        """Save the queued spend and close the key database (called at gateway shutdown)."""
        self._writer.close()
        self._store.close()

    def guard(self, handler: Callable[[Any, Any, Any], Awaitable[None]],
              on_error: Callable[[Any, SmallfirstError, str], Awaitable[None]]
              ) -> Callable[[Any, Any, Any], Awaitable[None]]:
        """Wrap an ASGI route handler so that it needs a valid key (same rule as chat completions)."""

        async def guarded(scope: Any, receive: Any, send: Any) -> None:
            try:
                self.authenticate(scope["headers"])
            except AuthenticationError as err:
                await on_error(send, err, "")
                return
            await handler(scope, receive, send)

        return guarded


def _human(seconds: float) -> str:
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400} d {s % 86400 // 3600} h"
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"
