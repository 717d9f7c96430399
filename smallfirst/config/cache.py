"""``[cache]``: the response cache (smallfirst.cache), exact and optionally semantic. Off by default."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Chosen from `python bench/cache.py` (README "Cache"): with the default guard (the same content words in
# order) no must-not-match lookup of its set hits at any similarity from 0.80 up, and the hit rate starts
# to fall above 0.90 (re-cased or re-punctuated questions embed at 0.93-0.97).
DEFAULT_SIMILARITY = 0.90


class CacheConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=False, description="answer repeats of a request from the cache (tier 'cache', "
                          "cost 0) instead of calling a model")
    path: str | None = Field(default=None, description="the cache's SQLite file (default: beside log.path, "
                             "<log stem>-cache.db); shared by serve --workers processes")
    ttl_s: float = Field(default=3600.0, gt=0, description="how long an answer may be reused")
    max_entries: int = Field(default=10_000, ge=1, description="entries kept; the least recently used go first")
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024, description="bytes of answers kept (same eviction)")
    tenant: str | None = Field(default=None, description="one cache for every caller under this name (default: "
                               "one per gateway key id; requests without a key share the anonymous tenant); "
                               "sensitive answers are always kept per key")
    cache_sampled: bool = Field(default=False, description="also cache requests with temperature > 0 or n > 1 "
                                "(a repeat then gets the same sample back); default: only deterministic requests "
                                "(temperature absent or 0, n absent or 1)")
    store_sensitive: bool = Field(default=False, description="cache answers to requests the residency detector "
                                  "flags (PII, PHI, secrets, financial ids); kept on this host for their own key "
                                  "only; default: such requests bypass the cache")
    semantic: bool = Field(default=False, description="also answer requests whose last user message means the "
                           "same as a cached one (all-MiniLM-L6-v2 on this host; same tenant, route, system "
                           "prompt, earlier turns, tools, response format and sampling parameters)")
    semantic_guard: Literal["words", "bag", "none"] = Field(default="words", description="semantic: what else "
                                                          "must match besides the embedding — words: the same "
                                                          "content words in the same order (case, spacing, "
                                                          "punctuation, contractions, filler words aside); bag: the "
                                                          "same content words in any order; none: only numbers, "
                                                          "negations and lettered choices (see README: Cache, for "
                                                          "the false hits each allows)")
    similarity: float = Field(default=DEFAULT_SIMILARITY, gt=0, le=1, description="semantic: the cosine "
                              "similarity a cached request must reach")
    max_candidates: int = Field(default=5000, ge=1, description="semantic: most recent same-contract entries "
                                "compared per lookup")
