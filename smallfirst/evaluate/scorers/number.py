"""Number extraction, GSM8K style: the number after ``####``, else after "answer is"/``\\boxed{}``,
else the last number in the answer; compared with a small relative tolerance."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from smallfirst.evaluate.scorers.base import EvalScorer, references

_NUM = r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?(?:[eE][-+]?\d+)?|[-+−]?\.\d+"
NUMBER = re.compile(rf"(?<![\w.])\$?\s?({_NUM})%?")
_MARKERS = (
    re.compile(r"####\s*(.*)"),
    re.compile(r"\\boxed\{([^{}]*)\}"),
    re.compile(r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*(.*)", re.I),
)


def parse_number(text: str) -> float | None:
    """A number written alone (``1,234.5``, ``-3``, ``3/4``, ``$12``, ``45%``), else ``None``."""
    m = NUMBER.fullmatch(text.strip().rstrip("."))
    return _value(m.group(1)) if m else None


def _value(raw: str) -> float | None:
    s = raw.replace(",", "").replace("−", "-")
    try:
        v = float(Fraction(s)) if "/" in s else float(s)
    except (ValueError, ZeroDivisionError):
        return None
    return v if math.isfinite(v) else None


def extract_number(answer: str) -> float | None:
    """The answer's final number (see the module docstring)."""
    for marker in _MARKERS:
        hits = marker.findall(answer)
        if hits:
            found = NUMBER.search(hits[-1])
            if found:
                return _value(found.group(1))
    found_all = NUMBER.findall(answer)
    return _value(found_all[-1]) if found_all else None


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)


class NumberScorer(EvalScorer):
    """1 when the extracted number equals the expected one (within 1e-4 relative), else 0."""

    name = "number"

    def score(self, task: Mapping[str, Any], answer: str) -> float:
        got = extract_number(answer)
        if got is None:
            return 0.0
        for ref in references(task):
            want = float(ref) if isinstance(ref, int | float) else extract_number(str(ref))
            if want is not None and close(got, want):
                return 1.0
        return 0.0
