"""Per-request state of the request path: the context, and the planned steps."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from smallfirst.core.tiers import Endpoint, Tier
from smallfirst.core.types import OPEN, Admission, Attempt, ChatRequest, Decision, Signals


@dataclass(slots=True)
class RequestContext:
    """Mutable per-request state, owned by one request."""

    request_id: str = field(default_factory=lambda: "req-" + os.urandom(12).hex())  # Engine.context() is cheaper
    t0: float = field(default_factory=time.perf_counter)
    ts: float = field(default_factory=time.time)
    requested_model: str = ""
    stream: bool = False
    signals: Signals | None = None
    request: ChatRequest | None = None  # as planned; the log asks masking endpoints what they masked in it
    reason: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    escalations: list[str] = field(default_factory=list)
    ttft_ms: float | None = None
    api_key_id: str | None = None
    prompt_text: str | None = None
    recorded: bool = False
    cache: str | None = None  # hit, miss or bypass when the response cache is on (x-smallfirst-cache)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000.0


@dataclass(frozen=True, slots=True)
class Step:
    tier: Tier
    endpoint: Endpoint


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    reason: str
    pinned: bool  # fail closed: steps may not be extended by any fallback
    withheld: tuple[str, ...] = ()  # higher tiers a pinning policy removed: the fallback the request did not get
    admission: Admission = OPEN  # what the access layer admitted the request with (kept for re-planning)


def decision(ctx: RequestContext, step: Step) -> Decision:
    """The decision for a request answered by ``step``: where, why, and every attempt with its cost."""
    ep = step.endpoint
    return Decision(step.tier.name, ep.backend.model, ep.backend.name, ctx.reason, tuple(ctx.escalations),
                    tuple(ctx.attempts), sum(a.cost_usd for a in ctx.attempts))
