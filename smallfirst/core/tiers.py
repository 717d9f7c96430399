"""Runtime tiers: an ordered cost class holding one or more backend endpoints."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from smallfirst.core.protocols import Backend
from smallfirst.core.types import Price


@dataclass(slots=True)
class Endpoint:
    backend: Backend
    price: Price | None  # None: unknown price (cost recorded as 0 and flagged)
    is_local: bool
    location: str


@dataclass(slots=True)
class Tier:
    name: str
    endpoints: list[Endpoint]
    strategy: str = "ordered"  # or "balanced"
    _rr: Iterator[int] = field(default_factory=itertools.count)

    @property
    def is_local(self) -> bool:
        return all(e.is_local for e in self.endpoints)

    def order(self) -> Sequence[Endpoint]:
        """Endpoints in the order to try them: as configured, or rotated round-robin when balanced."""
        if self.strategy != "balanced" or len(self.endpoints) < 2:
            return self.endpoints
        k = next(self._rr) % len(self.endpoints)
        return self.endpoints[k:] + self.endpoints[:k]
