"""Exact match and label-set match."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from smallfirst.evaluate.scorers.base import EvalScorer, references
from smallfirst.evaluate.scorers.text import normalise, strip_fence


class ExactScorer(EvalScorer):
    """1 when the normalised answer equals a normalised reference (case, spacing, surrounding quotes
    and a trailing full stop ignored), else 0."""

    name = "exact"

    def score(self, task: Mapping[str, Any], answer: str) -> float:
        got = normalise(strip_fence(answer))
        return 1.0 if any(got == normalise(str(r)) for r in references(task)) else 0.0


def predicted_label(answer: str, labels: list[str]) -> str | None:
    """The one label an answer gives: the whole answer when it is a label, else the only label that
    occurs in it as a whole word/phrase (case-insensitive). ``None`` when none or several occur."""
    got = normalise(strip_fence(answer))
    norm = {normalise(lab): lab for lab in labels}
    if got in norm:
        return norm[got]
    found = [lab for key, lab in norm.items()
             if re.search(r"(?<!\w)" + re.escape(key) + r"(?!\w)", got)]
    # a label contained in a longer one that also matched ("positive" in "very positive") does not count
    found = [f for f in found if not any(f != g and normalise(f) in normalise(g) for g in found)]
    return found[0] if len(found) == 1 else None


class LabelScorer(EvalScorer):
    """Label-set match: the answer must name exactly one label of ``contract.labels`` (or of the
    references when there is no label set), and it must be the expected one."""

    name = "label"

    def score(self, task: Mapping[str, Any], answer: str) -> float:
        refs = [str(r) for r in references(task)]
        labels = list((task.get("contract") or {}).get("labels") or refs)
        pred = predicted_label(answer, labels)
        if pred is None:
            return 0.0
        return 1.0 if any(normalise(pred) == normalise(r) for r in refs) else 0.0
