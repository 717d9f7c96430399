"""Confidence of an answer from its token log-probabilities (OpenAI ``logprobs.content`` shape).

* ``label`` (classification): where the answer begins, the probability mass the model puts on each
  allowed label's first token (from ``top_logprobs``; a token counts for every label it is a prefix
  of, case-insensitively, split evenly), normalised over the labels: the chosen label's share. A
  label missing from the top list gets the smallest listed probability (an upper bound), so the
  score errs low. The first of the opening positions that lists any label token is used: with
  label-constrained JSON the forced opening quote's position still shows the model's free choice.
  Without ``top_logprobs``: the joint probability of the tokens that spell the label.
* ``mean`` / ``min`` (extraction, free text): ``exp`` of the mean / smallest token log-prob.

Returns ``None`` when the answer carries no log-probs (the confidence check is then skipped).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OPENING_POSITIONS = 3  # how far into the answer the label's first token is looked for
_PUNCT = " \t\r\n\"'`*:.,"


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


def tokens_of(logprobs: Mapping[str, Any] | None) -> list[Token]:
    """Tokens from an OpenAI-shaped ``logprobs`` object (``{"content": [{token, logprob, top_logprobs}]}``)."""
    if not logprobs:
        return []
    out: list[Token] = []
    for t in logprobs.get("content") or []:
        if not isinstance(t, Mapping) or not isinstance(t.get("logprob"), int | float):
            continue
        top = tuple((str(x.get("token", "")), float(x["logprob"])) for x in t.get("top_logprobs") or []
                    if isinstance(x, Mapping) and isinstance(x.get("logprob"), int | float))
        out.append(Token(str(t.get("token", "")), float(t["logprob"]), top))
    return out


def mean_confidence(tokens: Sequence[Token]) -> float | None:
    lps = [t.logprob for t in tokens if math.isfinite(t.logprob)]
    return math.exp(sum(lps) / len(lps)) if lps else None


def min_confidence(tokens: Sequence[Token]) -> float | None:
    lps = [t.logprob for t in tokens if math.isfinite(t.logprob)]
    return math.exp(min(lps)) if lps else None


def label_masses(top: Sequence[tuple[str, float]], labels: Sequence[str]) -> dict[str, float] | None:
    """Probability mass per label from one position's alternatives (0: not listed); None when no
    alternative begins a label."""
    low = [lab.casefold() for lab in labels]
    mass = dict.fromkeys(labels, 0.0)
    hit = False
    for text, lp in top:
        key = text.strip(_PUNCT).casefold()
        fits = [lab for lab, lo in zip(labels, low, strict=True) if key and lo.startswith(key)]
        for lab in fits:
            mass[lab] += math.exp(lp) / len(fits)
            hit = True
    return mass if hit else None


def label_confidence(tokens: Sequence[Token], label: str, labels: Sequence[str]) -> float | None:
    """The chosen ``label``'s share of the label mass where the answer begins (see the module docstring)."""
    for tok in tokens[:OPENING_POSITIONS]:
        masses = label_masses(tok.top, labels) if tok.top else None
        if masses is None:
            continue
        if masses[label] <= 0:
            return 0.0
        floor = min(math.exp(lp) for _, lp in tok.top)  # bound for labels the list leaves out
        return masses[label] / sum(m if m > 0 else floor for m in masses.values())
    if any(t.top for t in tokens[:OPENING_POSITIONS]):
        return 0.0  # alternatives were listed and none begins a label
    return sequence_confidence(tokens, label)


def sequence_confidence(tokens: Sequence[Token], label: str) -> float | None:
    """Joint probability of the tokens that overlap the label's first occurrence in the answer."""
    text = "".join(t.text for t in tokens)
    start = text.casefold().find(label.casefold())
    if start < 0:
        return None
    end = start + len(label)
    pos, total = 0, 0.0
    for t in tokens:
        nxt = pos + len(t.text)
        if nxt > start and pos < end:
            total += t.logprob
        pos = nxt
    return math.exp(total)


def confidence(logprobs: Mapping[str, Any] | None, method: str, label: str | None = None,
               labels: Sequence[str] = ()) -> float | None:
    """The answer's confidence in [0, 1] by ``method`` (``label``, ``mean`` or ``min``), or None."""
    tokens = tokens_of(logprobs)
    if not tokens:
        return None
    if method == "label":
        return label_confidence(tokens, label, labels) if label is not None else None
    if method == "min":
        return min_confidence(tokens)
    return mean_confidence(tokens)
