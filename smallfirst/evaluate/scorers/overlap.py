"""Token overlap against reference texts: SQuAD token F1 (extraction, short answers) and ROUGE-L F1
(summaries). Several references: the best one counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from smallfirst.evaluate.scorers.base import EvalScorer, references
from smallfirst.evaluate.scorers.text import strip_fence, tokens


def token_f1(pred: str, ref: str) -> float:
    p, r = tokens(pred), tokens(ref)
    if not p or not r:
        return 1.0 if p == r else 0.0
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: list[str], b: list[str]) -> int:
    """Longest common subsequence length (O(len(a)·len(b)) time, O(len(b)) memory)."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(pred: str, ref: str) -> float:
    """ROUGE-L F-measure (β = 1) on normalised tokens."""
    p, r = tokens(pred), tokens(ref)
    if not p or not r:
        return 1.0 if p == r else 0.0
    lcs = lcs_length(p, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


class F1Scorer(EvalScorer):
    name = "f1"

    def score(self, task: Mapping[str, Any], answer: str) -> float:
        text = strip_fence(answer)
        return max((token_f1(text, str(r)) for r in references(task)), default=0.0)


class RougeLScorer(EvalScorer):
    name = "rouge_l"

    def score(self, task: Mapping[str, Any], answer: str) -> float:
        text = strip_fence(answer)
        return max((rouge_l(text, str(r)) for r in references(task)), default=0.0)
