"""Text normalisation shared by the scorers (SQuAD-style for token overlap)."""

from __future__ import annotations

import re
import string
import unicodedata

_WS = re.compile(r"\s+")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation + "‘’“”«»–—…")
_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.S)


def normalise(text: str) -> str:
    """For label/exact matching: NFKC, case-folded, whitespace collapsed, surrounding quotes and a
    trailing full stop removed."""
    t = _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    for _ in range(2):  # 'Paris'. and "Paris." alike
        t = t.strip("\"'`*“”‘’ ")
        t = t[:-1].rstrip() if t.endswith(".") else t
    return t


def tokens(text: str) -> list[str]:
    """For F1 / ROUGE-L: lower-cased, punctuation and English articles removed, split on whitespace."""
    t = unicodedata.normalize("NFKC", text).lower().translate(_PUNCT)
    return _ARTICLES.sub(" ", t).split()


def strip_fence(text: str) -> str:
    """The body of a Markdown code fence wrapping the whole answer (else the answer unchanged)."""
    m = _FENCE.match(text)
    return m.group(1) if m else text
