"""KeyTierPolicy: keep only the tiers the caller's API key may use (allowed tiers, and budget left).

:meth:`smallfirst.access.gate.Access.admit` decides the set per request and puts it in the
server-set ``x-smallfirst-key-tiers`` header (a client's own value is dropped there), next to
``request.api_key_id``. Without a key id the policy does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from smallfirst.access.gate import TIERS_HEADER
from smallfirst.core.protocols import Policy
from smallfirst.core.types import ChatRequest, PolicyResult, Signals


class KeyTierPolicy(Policy):
    def check(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> PolicyResult:
        raw = request.headers.get(TIERS_HEADER) if request.api_key_id is not None else None
        if raw is None:
            return PolicyResult(allowed=tuple(tiers))
        allowed = set(raw.split(",")) if raw else set()
        keep = tuple(t for t in tiers if t in allowed)
        if len(keep) == len(tiers):
            return PolicyResult(allowed=keep)
        dropped = ", ".join(t for t in tiers if t not in allowed)
        return PolicyResult(allowed=keep, reasons=(f"key {request.api_key_id}: may not use {dropped} "
                                                   "(allowed tiers or budget left)",))
