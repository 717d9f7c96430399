"""The host boundary as the engine sees it: a check before any call that would leave this host."""

from __future__ import annotations

from typing import Protocol

from smallfirst.core.types import ChatRequest, Signals


class BoundaryHeld(Exception):
    """The boundary check refused the destination; ``signals`` carry what it found (plan again with them)."""

    def __init__(self, reason: str, signals: Signals) -> None:
        super().__init__(reason)
        self.reason = reason
        self.signals = signals


class BoundaryCheck(Protocol):
    async def check(self, request: ChatRequest, signals: Signals | None, location: str) -> Signals | None:
        """Before ``request`` goes to an endpoint at ``location`` (not this host): the signals with the thorough
        screen's findings (None: unchanged), or raise :class:`BoundaryHeld` when ``location`` may not get it."""
