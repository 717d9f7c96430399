"""Capabilities: only tiers whose endpoints can serve what the request needs (smallfirst.core.needs).

* Hard needs (images, a forced tool call, ``n > 1``): tiers none of whose endpoints meets them are removed;
  when no tier that may serve the request meets them, the request is refused with a 400 that names what
  is missing and which configured tier could have served it (had another policy, e.g. residency, or the
  caller's key not excluded it). Endpoints inside a kept tier are filtered by the engine the same way.
* Soft needs (tools with ``tool_choice`` auto, a conversation carrying tool calls or results, a JSON
  schema), for ``smallfirst/auto`` only: when at least one allowed tier's endpoints declare them, tiers
  that do not are removed (the request goes to a tier that can call tools); when none does, every tier
  stays and the answer comes without them.

Capabilities come from the backend (its preset or what the runtime reports) and are overridden per
endpoint with ``[tiers.endpoints.capabilities]``.
"""

from __future__ import annotations

from collections.abc import Sequence

from smallfirst.core.errors import BadRequestError
from smallfirst.core.needs import NONE
from smallfirst.core.protocols import Policy
from smallfirst.core.tiers import Tier
from smallfirst.core.types import AUTO_MODEL, ChatRequest, PolicyResult, Signals


class CapabilityMissingError(BadRequestError):
    code = "capability_missing"


class CapabilityPolicy(Policy):
    def __init__(self, tiers: Sequence[Tier]) -> None:
        self._tiers = {t.name: t for t in tiers}
        self._order = [t.name for t in tiers]

    def _missing(self, tier: str, signals: Signals) -> tuple[str, ...]:
        """What no endpoint of ``tier`` can do (empty when one can do everything hard)."""
        found: tuple[str, ...] = ()
        for e in self._tiers[tier].endpoints:
            miss = signals.needs.missing(e.capabilities)
            if not miss:
                return ()
            found = found or miss
        return found

    def check(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> PolicyResult:
        needs = signals.needs
        if needs is NONE:
            return PolicyResult(allowed=tuple(tiers))
        if needs.hard:
            missing = {t: self._missing(t, signals) for t in tiers}
            keep = [t for t in tiers if not missing[t]]
            if not keep:
                raise self._refusal(tiers, missing, signals)
            reasons = tuple(f"capability: {t} cannot do {', '.join(m)}" for t, m in missing.items() if m)
        else:
            keep, reasons = list(tiers), ()
        if needs.soft and request.model == AUTO_MODEL:
            better = [t for t in keep if any(needs.prefers(e.capabilities) for e in self._tiers[t].endpoints)]
            if better and len(better) < len(keep):
                what = "tool calls" if needs.tools or needs.tool_history else "JSON schema output"
                dropped = ", ".join(t for t in keep if t not in better)
                reasons += (f"capability: {what} need a tier that declares them; skipped {dropped}",)
                keep = better
        return PolicyResult(allowed=tuple(keep), reasons=reasons)

    def _refusal(self, tiers: Sequence[str], missing: dict[str, tuple[str, ...]],
                 signals: Signals) -> CapabilityMissingError:
        what = sorted({m for ms in missing.values() for m in ms})
        could = [t for t in self._order if t not in tiers and not self._missing(t, signals)]
        detail = "; ".join(f"{t}: {', '.join(m)}" for t, m in missing.items())
        msg = f"no tier that may serve this request can do {' and '.join(what)} ({detail})"
        if could:
            msg += f"; tier {', '.join(could)} could, but residency or the API key excludes it here"
            hint = "send this request without that part, or allow the capable tier for it"
        else:
            hint = ("add an endpoint that can (e.g. a vision or tool-calling model), or declare what an "
                    "endpoint can do in [tiers.endpoints.capabilities]")
        return CapabilityMissingError(msg, param="messages" if signals.needs.images else
                                      "n" if signals.needs.choices > 1 else "tool_choice", hint=hint)
