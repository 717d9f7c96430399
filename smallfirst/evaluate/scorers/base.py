"""The eval scorers' common base: the :class:`~smallfirst.core.protocols.Scorer` protocol plus an
async form that can also report what scoring cost (an LLM judge's tokens)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smallfirst.core.errors import ConfigError
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


class PluginScorer(EvalScorer):
    """A plugin's plain :class:`Scorer` as an eval scorer; a score outside [0, 1] is an error naming it."""

    def __init__(self, inner: Scorer, name: str) -> None:
        self.inner = inner
        self.name = name

    def score(self, task: Mapping[str, Any], answer: str) -> float:
        value = float(self.inner.score(task, answer))
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"scorer {self.name!r} returned {value} for task {task.get('id')!r}, outside [0, 1]",
                              hint="a Scorer's score is a value in [0, 1]: fix the plugin that registers it")
        return value


def references(task: Mapping[str, Any]) -> list[Any]:
    """``expected`` as a list of acceptable answers (a list means: any of these)."""
    exp = task.get("expected")
    if exp is None:
        return []
    return list(exp) if isinstance(exp, list) else [exp]
