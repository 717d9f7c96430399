"""Prometheus view of the response cache, read at scrape time (nothing on the request path).

Lookups by result and the USD hits saved count this process (like every other counter: one series per
worker); entries and bytes are the shared SQLite file's, read at scrape.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from smallfirst.cache import ResponseCache


class CacheCollector(Collector):
    def __init__(self, cache: ResponseCache) -> None:
        self._cache = cache

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        c = self._cache.counts
        lookups = CounterMetricFamily("smallfirst_cache_lookups", "Response cache lookups by result (hit: "
                                      "answered from the cache; miss: answered, then kept; bypass: headers, "
                                      "metadata, a sampled or a sensitive request)", labels=["result"])
        for result, n in (("hit", c.hits), ("miss", c.misses), ("bypass", c.bypasses)):
            lookups.add_metric([result], n)
        semantic = CounterMetricFamily("smallfirst_cache_semantic_hits", "Hits found by similarity (in hits)")
        semantic.add_metric([], c.semantic_hits)
        rejected = CounterMetricFamily("smallfirst_cache_rejected", "Semantic candidates that failed the "
                                       "request's contract check (served fresh)")
        rejected.add_metric([], c.rejected)
        errors = CounterMetricFamily("smallfirst_cache_errors", "Cache file errors (the request went on without "
                                     "the cache)")
        errors.add_metric([], c.errors)
        saved = CounterMetricFamily("smallfirst_cache_saved_usd", "What the answers served from the cache cost "
                                    "when they were first made")
        saved.add_metric([], c.saved_usd)
        yield from (lookups, semantic, rejected, errors, saved)
        try:
            s = self._cache.store.stats(time.time())
        except sqlite3.Error:
            return
        entries = GaugeMetricFamily("smallfirst_cache_entries", "Entries in the cache file (all workers)")
        entries.add_metric([], s["entries"])
        size = GaugeMetricFamily("smallfirst_cache_bytes", "Bytes of answers (and vectors) in the cache file")
        size.add_metric([], s["bytes"])
        yield from (entries, size)


def register(registry: CollectorRegistry, cache: ResponseCache | None) -> None:
    if cache is not None:
        registry.register(CacheCollector(cache))
