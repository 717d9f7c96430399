"""The random router: a baseline. Picks a tier at random (uniform, or by a given mix), seeded."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from smallfirst.config.schema import Settings
from smallfirst.core.protocols import Router
from smallfirst.core.types import ChatRequest, RouteChoice, Signals


class RandomRouter(Router):
    def __init__(self, tiers: Sequence[str], mix: Sequence[float] | None = None, seed: int = 0) -> None:
        if not tiers:
            raise ValueError("the random router needs at least one tier")
        self.tiers = tuple(tiers)
        weights = list(mix) if mix is not None else [1.0] * len(self.tiers)
        if len(weights) != len(self.tiers) or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError("mix must give one non-negative weight per tier")
        self.weights = [w / sum(weights) for w in weights]
        self._rng = random.Random(seed)

    def score(self, request: ChatRequest, signals: Signals) -> Mapping[str, float]:
        return {t: self._rng.random() for t in self.tiers}

    def choose(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> RouteChoice:
        if not tiers:
            raise ValueError("no tier is allowed for this request")
        w = [self.weights[self.tiers.index(t)] if t in self.tiers else 0.0 for t in tiers]
        if sum(w) <= 0:
            w = [1.0] * len(tiers)
        tier = self._rng.choices(list(tiers), weights=w, k=1)[0]
        return RouteChoice(tier=tier, reason=f"random → {tier}")


def from_config(settings: Settings) -> Router:
    return RandomRouter(settings.tier_names)
