"""The cache's SQLite file and the ResponseCache over it (a deterministic stand-in encoder, no model)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from smallfirst.cache import ResponseCache
from smallfirst.cache.replay import collected
from smallfirst.cache.semantic import Vector
from smallfirst.cache.store import CacheStore, Entry
from smallfirst.config.cache import CacheConfig
from smallfirst.core.types import ChatChunk, ChatRequest, ChatResponse, Signals, Usage
from tests.unit.cache.test_cache_keys import req


def entry(key: str, size: int = 10, tenant: str = "t") -> Entry:
    return Entry(tenant, key, b"x" * size, "mid", "m", 0.01, 0.0)


def test_ttl_and_lru_limits(tmp_path: Path) -> None:
    s = CacheStore(str(tmp_path / "c.db"), max_entries=2, max_bytes=10_000)
    s.put(entry("a"), now=1.0, ttl_s=10)
    s.put(entry("b"), now=2.0, ttl_s=10)
    s.hit("t", "a", now=3.0, saved=0.01)  # a is now the most recently used
    s.put(entry("c"), now=4.0, ttl_s=10)
    assert [k for k in "abc" if s.get("t", k, 5.0)] == ["a", "c"]
    assert s.get("t", "a", 11.0) is None  # expired
    small = CacheStore(str(tmp_path / "d.db"), max_entries=100, max_bytes=1024)
    for i in range(5):
        small.put(entry(str(i), size=400), now=float(i), ttl_s=10)
    assert [k for k in "01234" if small.get("t", k, 5.0)] == ["3", "4"]
    assert s.stats(5.0)["hits"] == 1 and abs(s.stats(5.0)["saved_usd"] - 0.01) < 1e-12


def test_two_connections_share_one_file(tmp_path: Path) -> None:  # as serve --workers processes do
    a = CacheStore(str(tmp_path / "c.db"), 100, 10**6)
    b = CacheStore(str(tmp_path / "c.db"), 100, 10**6)
    a.put(entry("k"), now=1.0, ttl_s=10)
    assert b.get("t", "k", 2.0) is not None and b.clear("t") == 1 and a.get("t", "k", 2.0) is None


def words_vector(text: str) -> Vector:
    """A bag-of-words stand-in for the model: unit norm, deterministic."""
    v = np.zeros(64, dtype=np.float32)
    for w in text.lower().split():
        v[int(hashlib.blake2b(w.strip("?.!,").encode(), digest_size=2).hexdigest(), 16) % 64] += 1
    n = float(np.linalg.norm(v))
    return v / n if n else v


def answer(text: str) -> ChatResponse:
    return ChatResponse("m", {"role": "assistant", "content": text}, "stop", Usage(3, 2))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def cache(tmp_path: Path, **cfg: Any) -> ResponseCache:
    c = CacheConfig(enabled=True, **cfg)
    return ResponseCache(c, CacheStore(str(tmp_path / "c.db"), c.max_entries, c.max_bytes), words_vector)


PLAIN = Signals()


def served(c: ResponseCache, r: ChatRequest, sig: Signals = PLAIN, **kw: Any) -> str:
    looked = run(c.lookup(r, sig, **kw))
    if looked.pending is not None:
        run(c.keep(looked.pending, answer(f"for {r.messages[-1]['content']}"), "mid", 0.002, sig))
    return str(looked.status)


def test_semantic_hits_only_within_the_contract_and_after_the_check(tmp_path: Path) -> None:
    c = cache(tmp_path, semantic=True, similarity=0.9)
    assert served(c, req("What is the capital of France?")) == "miss"
    looked = run(c.lookup(req("what is the capital of France"), Signals()))
    assert looked.status == "hit" and looked.hit is not None and looked.hit.kind == "semantic"
    assert looked.hit.response.content == "for What is the capital of France?"
    assert served(c, req("What is the capital of France?", system="Be brief.")) == "miss"  # another contract

    async def refuse(resp: ChatResponse) -> bool:
        return False

    assert run(c.lookup(req("WHAT is the capital of France"), Signals(), accept=refuse)).status == "miss"
    assert c.counts.rejected == 1 and c.counts.semantic_hits == 1 and c.counts.hits == 1


def test_sensitive_answers_are_per_key_and_opt_in(tmp_path: Path) -> None:
    pii = Signals(sensitive_classes=("pii",))
    off = cache(tmp_path)
    assert served(off, req("mail bob@example.com"), pii) == "bypass" and off.store.stats(0)["entries"] == 0
    on = cache(tmp_path / "on", store_sensitive=True, tenant="team")
    a = ChatRequest(**{**_fields(req("mail bob@example.com")), "api_key_id": "k1"})
    b = ChatRequest(**{**_fields(req("mail bob@example.com")), "api_key_id": "k2"})
    assert [served(on, a, pii), served(on, a, pii), served(on, b, pii)] == ["miss", "hit", "miss"]
    plain_a = ChatRequest(**{**_fields(req("hello")), "api_key_id": "k1"})
    plain_b = ChatRequest(**{**_fields(req("hello")), "api_key_id": "k2"})
    assert [served(on, plain_a), served(on, plain_b)] == ["miss", "hit"]  # the configured tenant is shared
    assert on.store.stats(0)["sensitive"] == 2


def _fields(r: ChatRequest) -> dict[str, Any]:
    return {f: getattr(r, f) for f in ChatRequest.__dataclass_fields__}


def test_a_stream_is_kept_only_when_it_ends_cleanly() -> None:
    kept: list[ChatResponse] = []

    async def keep(resp: ChatResponse) -> None:
        kept.append(resp)

    async def chunks(items: list[ChatChunk]) -> Any:
        for i in items:
            yield i

    call = [{"index": 0, "id": "c1", "type": "function", "function": {"name": "get", "arguments": '{"a"'}}]
    rest = [ChatChunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
            ChatChunk({}, finish_reason="tool_calls", usage=Usage(4, 2))]

    async def drain(first: ChatChunk, items: list[ChatChunk]) -> None:
        async for _ in collected(first, chunks(items), "m", keep):
            pass

    run(drain(ChatChunk({"tool_calls": call}), rest))
    run(drain(ChatChunk({"content": "half"}), []))  # no finish reason: cut
    assert len(kept) == 1 and kept[0].finish_reason == "tool_calls" and kept[0].usage == Usage(4, 2)
    assert kept[0].message["tool_calls"] == [{"type": "function", "id": "c1",
                                              "function": {"name": "get", "arguments": '{"a": 1}'}}]
