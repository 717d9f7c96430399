"""Hashed text features for the learned router: vectorised in numpy, stable across processes.

A prompt becomes a sparse vector of ``2**bits`` dimensions:

* text n-grams — character 3–5-grams over the lower-cased, whitespace-collapsed text and word 1–2-grams —
  hashed with a polynomial prefix hash (uint64 arithmetic, no Python ``hash``), weighted
  ``(1 + log tf) · idf`` and L2-normalised;
* meta tokens (value 1 each, not normalised): the task hint, the detected task type, and buckets of
  length, digit share, code/math density, line count and question marks.

Only the first ``max_chars`` characters (head and tail) are read, so the cost per prompt is bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from smallfirst.core.types import ChatRequest, Signals
from smallfirst.signals.extract import extract

U64 = np.uint64
_P = U64(0x100000001B3)  # FNV prime (odd → invertible mod 2**64)
_MIX = U64(0x9E3779B97F4A7C15)  # Fibonacci hashing multiplier
_SALT_CHAR = U64(0x51ED27)
_SALT_WORD = U64(0xC0FFEE)
_SALT_BIGRAM = U64(0xB16B00B5)
_SALT_META = U64(0xFEEDFACE)

Idx = npt.NDArray[np.int64]
Vals = npt.NDArray[np.float64]


def _inverse_mod_2_64(a: int) -> int:
    x = 1
    for _ in range(7):  # Newton iteration doubles the correct bits each step
        x = (x * (2 - a * x)) % (1 << 64)
    return x


def _fnv1a(text: str) -> np.uint64:
    """Stable 64-bit hash of a short string (FNV-1a over UTF-8)."""
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) % (1 << 64)
    return U64(h)


@dataclass(frozen=True)
class HashedFeaturizer:
    bits: int = 18
    char_ngrams: tuple[int, int] = (3, 5)
    word_ngrams: tuple[int, int] = (1, 2)
    max_chars: int = 3000
    use_meta: bool = True
    _pow_inv: npt.NDArray[np.uint64] = field(init=False, repr=False, compare=False)
    _pow_fwd: npt.NDArray[np.uint64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, base in (("_pow_inv", U64(_inverse_mod_2_64(int(_P)))), ("_pow_fwd", _P)):
            pw = np.full(self.max_chars + 2, base, dtype=np.uint64)
            pw[0] = U64(1)
            object.__setattr__(self, name, np.cumprod(pw, dtype=np.uint64))

    @property
    def dim(self) -> int:
        return 1 << self.bits

    def config(self) -> dict[str, Any]:
        return {"kind": "hashed-v1", "bits": self.bits, "char_ngrams": list(self.char_ngrams),
                "word_ngrams": list(self.word_ngrams), "max_chars": self.max_chars, "use_meta": self.use_meta}

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> HashedFeaturizer:
        if cfg.get("kind") != "hashed-v1":
            raise ValueError(f"unknown featurizer kind {cfg.get('kind')!r}")
        return cls(bits=int(cfg["bits"]), char_ngrams=(int(cfg["char_ngrams"][0]), int(cfg["char_ngrams"][1])),
                   word_ngrams=(int(cfg["word_ngrams"][0]), int(cfg["word_ngrams"][1])),
                   max_chars=int(cfg["max_chars"]), use_meta=bool(cfg["use_meta"]))

    @staticmethod
    def prompt_signals(text: str, task: str | None) -> Signals:
        """Signals of a bare prompt (training rows), as the gateway would compute them."""
        meta = {"task": task} if task else {}
        return extract(ChatRequest(model="", messages=[{"role": "user", "content": text}], body={},
                                   metadata=meta))

    def _index(self, h: npt.NDArray[np.uint64], salt: np.uint64) -> Idx:
        return ((h ^ salt) * _MIX >> U64(64 - self.bits)).astype(np.int64)

    def _clip(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        head = self.max_chars * 3 // 4
        return text[:head] + " " + text[-(self.max_chars - head - 1):]

    def text_hashes(self, text: str) -> Idx:
        """Feature indices (with repeats) of the text n-grams."""
        t = " ".join(self._clip(text).lower().split())
        if not t:
            return np.zeros(0, dtype=np.int64)
        codes = np.frombuffer(t.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        n = len(codes)
        powers = self._pow_inv[: n + 1]
        # prefix hash H[i] = Σ_{j<i} c_j · P^j, so hash(s[a:b]) = (H[b] - H[a]) · P^-a
        prefix = np.r_[U64(0), np.cumsum(codes * self._pow_fwd[:n], dtype=np.uint64)]
        out: list[Idx] = []
        lo, hi = self.char_ngrams
        for k in range(lo, hi + 1):
            if n < k:
                break
            h = (prefix[k:] - prefix[:-k]) * powers[: n - k + 1]
            out.append(self._index(h + U64(k), _SALT_CHAR))
        # words: maximal runs of letters/digits (ASCII alnum or any non-ASCII code point)
        is_w = ((codes >= 97) & (codes <= 122)) | ((codes >= 48) & (codes <= 57)) | (codes >= 192)
        edges = np.diff(np.r_[0, is_w.astype(np.int8), 0])
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        if len(starts):
            wh = (prefix[ends] - prefix[starts]) * powers[starts]
            if self.word_ngrams[0] <= 1:
                out.append(self._index(wh, _SALT_WORD))
            if self.word_ngrams[1] >= 2 and len(wh) > 1:
                out.append(self._index(wh[:-1] * _MIX + wh[1:], _SALT_BIGRAM))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def meta_tokens(self, text: str, signals: Signals) -> list[str]:
        """Categorical tokens from the request's signals and a few cheap counts on the text."""
        head = text[:1800]
        digits = sum(head.count(c) for c in "0123456789") / max(len(head), 1)
        hint = signals.extra.get("task_hint") if signals.extra else None
        return [
            f"task:{hint or '-'}",
            f"type:{signals.extra.get('detected_task', signals.task_type)}",
            f"len:{int(np.log2(signals.prompt_chars + 1))}",
            f"turns:{min(signals.turns, 4)}",
            f"dig:{min(int(digits * 40), 8)}",
            f"code:{min(int(signals.code_density * 5), 5)}",
            f"math:{min(int(signals.math_density * 20), 5)}",
            f"lines:{min(text.count(chr(10)), 12)}",
            f"q:{min(text.count('?'), 3)}",
            f"json:{int(signals.wants_json)}",
            f"reason:{int(signals.reasoning_requested)}",
        ]

    def meta_index(self, tokens: Sequence[str]) -> Idx:
        return self._index(np.array([_fnv1a(t) for t in tokens], dtype=np.uint64), _SALT_META)

    def transform_one(self, text: str, signals: Signals, idf: npt.NDArray[np.floating[Any]] | None) -> tuple[Idx, Vals]:
        """Sparse (indices, values) of one prompt; duplicate indices are summed by the consumer."""
        h = self.text_hashes(text)
        if len(h):
            h.sort()
            first = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
            idx, counts = h[first], np.diff(np.r_[first, len(h)])
            vals = 1.0 + np.log(counts.astype(np.float64))
            if idf is not None:
                vals *= idf[idx]
            norm = float(np.sqrt(np.dot(vals, vals)))
            if norm > 0:
                vals /= norm
        else:
            idx, vals = np.zeros(0, dtype=np.int64), np.zeros(0)
        if self.use_meta:
            m = self.meta_index(self.meta_tokens(text, signals))
            idx = np.r_[idx, m]
            vals = np.r_[vals, np.ones(len(m))]
        return idx, vals
