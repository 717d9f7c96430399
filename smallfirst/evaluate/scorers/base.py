"""The eval scorers' common base: the :class:`~smallfirst.core.protocols.Scorer` protocol plus an
async form that can also report what scoring cost (an LLM judge's tokens)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smallfirst.core.protocols import Scorer


@dataclass(frozen=True, slots=True)
class Scored:
    """A score in [0, 1] and what producing it cost (0 for the pure scorers)."""

    score: float
    cost_usd: float = 0.0
    detail: str | None = None  # e.g. the judge's verdict, or why a JSON answer failed


class EvalScorer(Scorer):
    """A scorer the runner can await. Pure scorers implement :meth:`score`; the judge overrides
    :meth:`ascore` too."""

    name: str = ""

    async def ascore(self, task: Mapping[str, Any], answer: str) -> Scored:
        return Scored(self.score(task, answer))


def references(task: Mapping[str, Any]) -> list[Any]:
    """``expected`` as a list of acceptable answers (a list means: any of these)."""
    exp = task.get("expected")
    if exp is None:
        return []
    return list(exp) if isinstance(exp, list) else [exp]
