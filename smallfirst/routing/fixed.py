"""The fixed router: always one tier (``routing.fixed_tier``, default the cheapest)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from smallfirst.config.schema import Settings
from smallfirst.core.protocols import Router
from smallfirst.core.types import ChatRequest, RouteChoice, Signals
from smallfirst.routing.tiers import pick_allowed


class FixedRouter(Router):
    def __init__(self, tier: str, configured: Sequence[str]) -> None:
        if tier not in configured:
            raise ValueError(f"fixed tier {tier!r} is not one of {', '.join(configured)}")
        self.tier = tier
        self.configured = tuple(configured)

    def score(self, request: ChatRequest, signals: Signals) -> Mapping[str, float]:
        return {t: 1.0 if t == self.tier else 0.0 for t in self.configured}

    def choose(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> RouteChoice:
        tier, note = pick_allowed(self.tier, self.configured, tiers)
        return RouteChoice(tier=tier, reason=f"fixed → {tier}{note}")


def from_config(settings: Settings) -> Router:
    names = settings.tier_names
    return FixedRouter(settings.routing.fixed_tier or names[0], names)
