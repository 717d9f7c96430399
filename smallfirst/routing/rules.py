"""The zero-config rules router: cheap signals → complexity level → tier, with a readable reason.

Levels: 0 simple (classify, extract, summarise, translate, rewrite, chat), 1 moderate (open-domain
knowledge, code, math), 2 hard (multi-step reasoning, an explicit request to reason step by step, or
code/math with reasoning). A prompt longer than ``long_prompt_chars`` moves up one level, tools need at
least level 1. Levels map onto however many tiers are configured (cheapest first); with two tiers the
moderate level stays on the cheaper tier (small first; the cascade escalates when needed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from smallfirst.config.schema import Settings
from smallfirst.core.protocols import Router
from smallfirst.core.types import ChatRequest, RouteChoice, Signals
from smallfirst.routing.tiers import level_to_index, pick_allowed

N_LEVELS = 3
SIMPLE = frozenset({"classify", "extract", "summarise", "translate", "rewrite", "chat"})
MODERATE = frozenset({"knowledge", "code", "math"})
HARD = frozenset({"reasoning"})
KNOWN = SIMPLE | MODERATE | HARD
LEVEL_NAMES = ("simple", "moderate", "hard")


def complexity(signals: Signals, long_prompt_chars: int) -> tuple[int, list[str]]:
    """Complexity level (0..2) of a request and the facts that set it."""
    task = signals.task_type
    why = [f"task={task}"]
    base_task = task
    if task not in KNOWN:  # a custom task hint: judge by the text
        base_task = str(signals.extra.get("detected_task", "chat")) if signals.extra else "chat"
        why.append(f"looks like {base_task}")
    level = 0 if base_task in SIMPLE else (2 if base_task in HARD else 1)
    if signals.reasoning_requested:
        if level < 2:
            why.append("reasoning requested")
        level = 2
    if signals.prompt_chars > long_prompt_chars:
        why.append(f"long prompt ({signals.prompt_chars:,} chars)")
        level = min(level + 1, 2)
    if signals.wants_tools and level == 0:
        why.append("tools")
        level = 1
    return level, why


class RulesRouter(Router):
    """Picks a tier from cheap signals; ``score`` is a heuristic, not a calibrated probability."""

    def __init__(self, tiers: Sequence[str], long_prompt_chars: int = 6000) -> None:
        if not tiers:
            raise ValueError("the rules router needs at least one tier")
        self.tiers = tuple(tiers)
        self.long_prompt_chars = long_prompt_chars

    def _desired(self, signals: Signals) -> tuple[int, list[str]]:
        level, why = complexity(signals, self.long_prompt_chars)
        return level_to_index(level, N_LEVELS, len(self.tiers)), why

    def _scores(self, idx: int) -> dict[str, float]:
        return {t: 1.0 if i >= idx else round(0.3 ** (idx - i), 4) for i, t in enumerate(self.tiers)}

    def score(self, request: ChatRequest, signals: Signals) -> Mapping[str, float]:
        idx, _ = self._desired(signals)
        return self._scores(idx)

    def choose(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> RouteChoice:
        idx, why = self._desired(signals)
        tier, note = pick_allowed(self.tiers[idx], self.tiers, tiers)
        return RouteChoice(tier=tier, reason=f"rules: {', '.join(why)} → {tier}{note}", scores=self._scores(idx))


def from_config(settings: Settings) -> Router:
    return RulesRouter(settings.tier_names, settings.routing.long_prompt_chars)
