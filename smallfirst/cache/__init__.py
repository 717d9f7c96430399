"""The response cache (``[cache]``): exact and semantic, per tenant, on this host. See :mod:`.cache`."""

from __future__ import annotations

from pathlib import Path

from smallfirst.cache.cache import Hit, Lookup, Pending, ResponseCache
from smallfirst.cache.store import CacheStore
from smallfirst.config.schema import Settings

__all__ = ["CacheStore", "Hit", "Lookup", "Pending", "ResponseCache", "build_cache", "cache_path", "open_store"]


def cache_path(settings: Settings) -> str:
    """``cache.path``, or ``<log stem>-cache.db`` beside ``log.path`` (``:memory:`` stays in memory)."""
    if settings.cache.path:
        return settings.cache.path
    log = settings.log.path
    if log == ":memory:":
        return log
    p = Path(log)
    return str(p.with_name(f"{p.stem}-cache.db"))


def open_store(settings: Settings) -> CacheStore:
    c = settings.cache
    return CacheStore(cache_path(settings), c.max_entries, c.max_bytes)


def build_cache(settings: Settings) -> ResponseCache | None:
    """The cache, when ``[cache] enabled``; the embedding model is loaded on first semantic use."""
    if not settings.cache.enabled:
        return None
    encode = None
    if settings.cache.semantic:
        from smallfirst.cache.semantic import minilm_encoder

        encode = minilm_encoder()
    return ResponseCache(settings.cache, open_store(settings), encode)
