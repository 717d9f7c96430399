"""Context window: drop tiers too small for the request's estimated prompt plus requested output.

A tier's window is the largest known window among its endpoints; a tier with any endpoint of unknown
window is kept (the upstream decides). The estimate (``Signals.prompt_tokens_est``, about 4
characters a token) is rough, so it is multiplied by ``safety``; and when no tier fits, the tiers
with the largest window are kept rather than failing the request here — only residency fails closed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from smallfirst.config.schema import Settings
from smallfirst.core.protocols import Policy
from smallfirst.core.tiers import Tier
from smallfirst.core.types import ChatRequest, PolicyResult, Signals


def windows_from_settings(settings: Settings) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for t in settings.tiers:
        sizes = [e.context_window or e.n_ctx for e in t.endpoints]
        out[t.name] = None if any(s is None for s in sizes) else max(s for s in sizes if s is not None)
    return out


def windows_from_tiers(tiers: Sequence[Tier]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for t in tiers:
        sizes = [e.capabilities.context_window for e in t.endpoints]
        out[t.name] = None if any(s is None for s in sizes) else max(s for s in sizes if s is not None)
    return out


class ContextWindowPolicy(Policy):
    def __init__(self, windows: Mapping[str, int | None], *, safety: float = 1.1) -> None:
        if safety < 1.0:
            raise ValueError("safety must be >= 1.0")
        self.windows = dict(windows)
        self.safety = safety

    @classmethod
    def from_settings(cls, settings: Settings, *, safety: float = 1.1) -> ContextWindowPolicy:
        return cls(windows_from_settings(settings), safety=safety)

    @classmethod
    def from_tiers(cls, tiers: Sequence[Tier], *, safety: float = 1.1) -> ContextWindowPolicy:
        return cls(windows_from_tiers(tiers), safety=safety)

    def needed_tokens(self, request: ChatRequest, signals: Signals) -> int:
        return int(signals.prompt_tokens_est * self.safety) + (request.max_tokens or 0)

    def check(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> PolicyResult:
        need = self.needed_tokens(request, signals)
        windows = self.windows
        for t in tiers:  # the usual case, every tier fits: one plain loop, no tuple built
            w = windows.get(t)
            if w is not None and w < need:
                break
        else:
            return PolicyResult(allowed=tuple(tiers))
        fits = tuple(t for t in tiers if (w := windows.get(t)) is None or w >= need)
        if not fits:
            largest = max((self.windows.get(t) or 0) for t in tiers) if tiers else 0
            keep = tuple(t for t in tiers if (self.windows.get(t) or 0) == largest)
            return PolicyResult(allowed=keep, reasons=(
                f"context: ~{need} tokens exceed every tier's window; trying the largest ({largest}): "
                f"{', '.join(keep)}",))
        dropped = [f"{t} ({self.windows.get(t)})" for t in tiers if t not in fits]
        return PolicyResult(allowed=fits, reasons=(f"context: ~{need} tokens; removed {', '.join(dropped)}",))
