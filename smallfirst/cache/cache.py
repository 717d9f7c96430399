"""The response cache the engine consults: a lookup before planning, a store after a good answer.

Per request (``[cache] enabled = true``):

- **bypass** (neither read nor written) when ``Cache-Control: no-store`` or
  ``metadata.smallfirst_cache = "off"`` says so, when the request is sampled (temperature > 0 or n > 1)
  and ``cache_sampled`` is off, or when the residency detector flags it and ``store_sensitive`` is off;
  ``Cache-Control: no-cache`` / ``"refresh"`` skip the lookup (also reported as bypass) and store the
  fresh answer;
- **hit**: the same request (exact key, :mod:`.key`) for the same tenant, not expired — or, with
  ``semantic = true``, a cached request with the same contract key whose last user message is within
  ``similarity`` (cosine) of this one's and whose answer passes this request's contract check;
- **miss** otherwise: after a successful, accepted answer the engine calls :meth:`ResponseCache.keep`.

Tenants: the caller's gateway key id (``-`` without a key), or ``[cache] tenant`` for everyone — but a
sensitive request's answer is always kept under its own key id and only with ``store_sensitive``.
Everything stays in the SQLite file on this host; lookups compute embeddings in this process.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from smallfirst.cache import codec
from smallfirst.cache.key import ANONYMOUS, contract_key, exact_key, mode_of, query_text, sampled
from smallfirst.cache.semantic import Encode, nearest
from smallfirst.cache.store import CacheStore, Entry
from smallfirst.config.cache import CacheConfig
from smallfirst.core.types import ChatRequest, ChatResponse, Signals

Status = Literal["hit", "miss", "bypass"]
Accept = Callable[[ChatResponse], Awaitable[bool]]  # the request's contract check of a semantic candidate


@dataclass(frozen=True, slots=True)
class Hit:
    response: ChatResponse
    kind: Literal["exact", "semantic"]
    tier: str  # the tier that first answered
    model: str
    saved_usd: float  # what the first answer cost, saved again now
    age_s: float
    similarity: float | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    """What :meth:`ResponseCache.keep` needs after the answer."""

    key: str
    api_key_id: str | None
    contract: str | None = None
    text: str | None = None
    vector: bytes | None = None


@dataclass(frozen=True, slots=True)
class Lookup:
    status: Status
    why: str = ""
    hit: Hit | None = None
    pending: Pending | None = None  # None: do not store this request's answer


@dataclass(slots=True)
class Counts:
    """This process's cache outcomes (exported on /metrics)."""

    hits: int = 0
    semantic_hits: int = 0
    misses: int = 0
    bypasses: int = 0
    rejected: int = 0  # semantic candidates that failed the request's contract
    stored: int = 0
    errors: int = 0  # cache file errors (the request went on without the cache)
    saved_usd: float = 0.0


class ResponseCache:
    def __init__(self, cfg: CacheConfig, store: CacheStore, encode: Encode | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.store = store
        self._encode = encode if cfg.semantic else None
        self.clock = clock
        self.counts = Counts()

    def _tenant(self, api_key_id: str | None, sensitive: bool) -> str:
        own = api_key_id or ANONYMOUS
        return own if sensitive or self.cfg.tenant is None else "tenant:" + self.cfg.tenant

    def _bypass(self, why: str, pending: Pending | None = None) -> Lookup:
        self.counts.bypasses += 1
        return Lookup("bypass", why, pending=pending)

    async def lookup(self, request: ChatRequest, signals: Signals, accept: Accept | None = None) -> Lookup:
        try:
            return await self._lookup(request, signals, accept)
        except sqlite3.Error as err:  # a locked or broken cache file never fails the request
            self.counts.errors += 1
            return self._bypass(f"cache unavailable ({err})")

    async def _lookup(self, request: ChatRequest, signals: Signals, accept: Accept | None) -> Lookup:
        mode, why = mode_of(request)
        if mode == "off":
            return self._bypass(why)
        if sampled(request) and not self.cfg.cache_sampled:
            return self._bypass("sampled request (temperature > 0 or n > 1; cache.cache_sampled is off)")
        sensitive = bool(signals.sensitive_classes)
        if sensitive and not self.cfg.store_sensitive:
            return self._bypass("sensitive request (cache.store_sensitive is off)")
        key = exact_key(request)
        text = query_text(request) if self._encode is not None else None
        contract = contract_key(request, text, self.cfg.semantic_guard) if text is not None else None
        pending = Pending(key, request.api_key_id, contract, text)
        if mode == "refresh":
            return self._bypass(why, pending)
        tenant, now = self._tenant(request.api_key_id, sensitive), self.clock()
        entry = self.store.get(tenant, key, now)
        if entry is not None:
            return self._served(tenant, entry, "exact", now, None)
        if contract is not None and text is not None and self.store.has_contract(tenant, contract, now):
            vector = await asyncio.to_thread(self._vector, text)
            pending = Pending(key, request.api_key_id, contract, text, vector.tobytes())
            found = nearest(vector, self.store.vectors(tenant, contract, now, self.cfg.max_candidates))
            if found is not None and found[1] >= self.cfg.similarity:
                near = self.store.get(tenant, found[0], now)
                if near is not None:
                    resp = codec.loads(near.answer)
                    if accept is None or await accept(resp):
                        return self._served(tenant, near, "semantic", now, found[1])
                    self.counts.rejected += 1
        self.counts.misses += 1
        return Lookup("miss", pending=pending)

    def _vector(self, text: str) -> np.ndarray:
        assert self._encode is not None
        return np.asarray(self._encode(text), dtype=np.float32)

    def _served(self, tenant: str, e: Entry, kind: Literal["exact", "semantic"], now: float,
                similarity: float | None) -> Lookup:
        self.store.hit(tenant, e.key, now, e.cost_usd)
        self.counts.hits += 1
        self.counts.semantic_hits += kind == "semantic"
        self.counts.saved_usd += e.cost_usd
        hit = Hit(codec.loads(e.answer), kind, e.tier, e.model, e.cost_usd, max(0.0, now - e.created), similarity)
        return Lookup("hit", hit=hit)

    async def keep(self, pending: Pending, resp: ChatResponse, tier: str, cost_usd: float, signals: Signals) -> None:
        """Store an accepted answer (called by the engine; skipped when the request turned out sensitive — the
        boundary screen may find more than the cheap pass — and store_sensitive is off)."""
        sensitive = bool(signals.sensitive_classes)
        if sensitive and not self.cfg.store_sensitive:
            return
        vector = pending.vector
        if vector is None and pending.text is not None and self._encode is not None:
            vector = (await asyncio.to_thread(self._vector, pending.text)).tobytes()
        now = self.clock()
        entry = Entry(self._tenant(pending.api_key_id, sensitive), pending.key, codec.dumps(resp), tier, resp.model,
                      cost_usd, now, sensitive, pending.contract if vector is not None else None, vector)
        try:
            self.store.put(entry, now, self.cfg.ttl_s)
        except sqlite3.Error:
            self.counts.errors += 1
            return
        self.counts.stored += 1

    def snapshot(self) -> dict[str, object]:
        """This process's outcomes and the shared file's size, for the admin API and the dashboard."""
        c = self.counts
        looked = c.hits + c.misses + c.bypasses
        out: dict[str, object] = {"semantic": self.cfg.semantic, "hits": c.hits, "semantic_hits": c.semantic_hits,
                                  "misses": c.misses, "bypasses": c.bypasses, "rejected": c.rejected,
                                  "errors": c.errors, "saved_usd": c.saved_usd,
                                  "hit_rate": c.hits / looked if looked else None}
        try:
            s = self.store.stats(self.clock())
        except sqlite3.Error:
            return out
        return {**out, "entries": s["entries"], "bytes": s["bytes"], "saved_usd_all": s["saved_usd"]}

    def close(self) -> None:
        self.store.close()
