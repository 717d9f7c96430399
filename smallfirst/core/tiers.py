"""Runtime tiers: an ordered cost class holding one or more backend endpoints."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from smallfirst.core.local_cost import LocalRate
from smallfirst.core.protocols import Backend
from smallfirst.core.types import Capabilities, ChatRequest, Price, Usage

Masked = tuple[tuple[str, int], ...]  # (entity type, distinct values masked), types and counts only


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One backend as the request path sees it: the backend (with its wrappers), its price, and where it is.

    Built once by :mod:`smallfirst.pipeline`; never changed afterwards."""

    backend: Backend
    price: Price | None  # None: unknown price (cost recorded as 0 and flagged)
    is_local: bool
    location: str
    # when the backend masks what it sends (residency redaction): what it masks in a request, or None
    masks: Callable[[ChatRequest], Masked | None] | None = None
    # config's [tiers.endpoints.capabilities]: fields that replace what the backend declares
    overrides: Mapping[str, Any] = field(default_factory=dict)
    # what the runtime reports (smallfirst.runtime: context window, tools, vision), applied before overrides
    learned: Callable[[Capabilities], Capabilities] | None = None
    # what an answer costs on this hardware (smallfirst.core.local_cost), logged apart from API spend; None: none
    local_rate: LocalRate | None = None

    @property
    def capabilities(self) -> Capabilities:
        caps = self.backend.capabilities
        if self.learned is not None:
            caps = self.learned(caps)
        return caps.with_overrides(self.overrides) if self.overrides else caps

    def cost(self, usage: Usage) -> float:
        """USD for ``usage`` at this endpoint's price (0 when the price is unknown)."""
        return self.price.cost(usage) if self.price is not None else 0.0


@dataclass(slots=True)
class Tier:
    name: str
    endpoints: list[Endpoint]
    strategy: str = "ordered"  # or "balanced"
    _rr: Iterator[int] = field(default_factory=itertools.count)
    # balanced: the round-robin pick → the endpoint to start at (smallfirst.runtime: a warm, idle one)
    prefer: Callable[[int], int] | None = None
    _rotations: tuple[Sequence[Endpoint], ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        n = len(self.endpoints)
        self._rotations = tuple(self.endpoints[k:] + self.endpoints[:k] for k in range(n))

    @property
    def is_local(self) -> bool:
        return all(e.is_local for e in self.endpoints)

    def order(self) -> Sequence[Endpoint]:
        """Endpoints in the order to try them: as configured, or rotated round-robin when balanced (starting at
        the preferred endpoint when ``prefer`` names one). The rotations are built once: nothing is allocated."""
        if self.strategy != "balanced" or len(self.endpoints) < 2:
            return self.endpoints
        k = next(self._rr) % len(self.endpoints)
        if self.prefer is not None:
            k = self.prefer(k)
        return self._rotations[k]
