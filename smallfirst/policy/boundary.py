"""The residency check at the host boundary: the thorough screen, run only when a call would leave.

The engine calls :meth:`BoundaryGuard.check` right before any call to an endpoint that is not on this
host (first answer, fallback, escalation, cascade sample / verifier / judge). The screen's findings
replace the cheap pass's (they are a superset), and the residency policy decides again with them: a
location the data may not go to raises :class:`~smallfirst.core.boundary.BoundaryHeld`, and the engine
plans the request again with the new signals (so it stays on the host, or fails closed). Requests that
stay on the host never pay for the screen.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from smallfirst.core.boundary import BoundaryHeld
from smallfirst.core.types import ChatRequest, Signals
from smallfirst.policy.residency import LOCAL, ResidencyPolicy
from smallfirst.sensitivity import Findings, attach
from smallfirst.sensitivity.boundary import BoundaryScreen


@dataclass(slots=True)
class BoundaryGuard:
    policy: ResidencyPolicy
    screen: BoundaryScreen

    async def findings(self, request: ChatRequest) -> Findings:
        """The screen's findings for ``request``, computed off the event loop (NER costs milliseconds)."""
        return await asyncio.to_thread(self.screen.detect, request)

    async def check(self, request: ChatRequest, signals: Signals | None, location: str) -> Signals | None:
        if location == LOCAL:
            return None
        found = await self.findings(request)
        sig = signals if signals is not None else Signals()
        cheap = sig.sensitivity
        if not found.entities or cheap == found:
            return None
        updated = attach(sig, found)
        allowed, why = self.policy.allowed_locations(request, updated, found)
        if self.screen.strict:
            allowed = frozenset({LOCAL})
            why = [*why, f"residency.mode = allowlist ({found})"]
        if allowed is not None and location not in allowed:
            raise BoundaryHeld(f"boundary screen: {'; '.join(why) or found} → not sent to {location}", updated)
        return updated
