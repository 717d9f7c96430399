"""One place builds the request pipeline: settings → a finished, frozen :class:`Pipeline`.

Order of construction (each step reads only what the steps before it made):

1. residency (:func:`~.parts.build_residency`): signals with the cheap sensitivity pass, the fail-closed
   policy, the boundary screen — from where each endpoint is, known from config before any backend exists;
2. endpoints (:mod:`.endpoints`): backend → resilience → redaction, each endpoint frozen with its price,
   location and capabilities;
3. policies, in the order the engine applies them: residency, context window, capabilities (what the
   request needs: images, forced tool calls, n > 1, tools), the latency budget (local runtimes' state:
   :mod:`smallfirst.runtime`), conversation stickiness, then plugin policies
   (``[policies.<name>]`` tables, in file order); the caller's API key is applied before them, from the
   request's :class:`~smallfirst.core.types.Admission`;
4. router, request log, the cascade's check, the access layer (keys, limits, budgets) and its observer.

:meth:`Pipeline.engine` hands the engine all of it; nothing is patched afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from smallfirst.access.gate import Access
from smallfirst.cache import ResponseCache, build_cache
from smallfirst.config.schema import Settings
from smallfirst.core.boundary import BoundaryCheck
from smallfirst.core.protocols import AnswerCheck, Policy, Router, Store
from smallfirst.core.tiers import Tier
from smallfirst.core.types import RequestRecord
from smallfirst.engine import Engine
from smallfirst.pipeline.endpoints import build_backend, build_tiers, price_of
from smallfirst.pipeline.parts import SignalFn, build_checker, build_residency, build_router, build_store
from smallfirst.runtime import RuntimeMonitor

Observer = Callable[[RequestRecord], None]

__all__ = ["Pipeline", "build_backend", "build_pipeline", "build_router", "build_store", "build_tiers", "price_of"]


@dataclass(frozen=True, slots=True)
class Pipeline:
    """Everything one request goes through, built once from validated settings."""

    settings: Settings
    tiers: tuple[Tier, ...]
    policies: tuple[Policy, ...]
    router: Router
    store: Store
    signals: SignalFn
    access: Access
    checker: AnswerCheck | None = None  # the cascade's contract check
    boundary: BoundaryCheck | None = None  # the thorough residency screen before a call leaves the host
    observers: tuple[Observer, ...] = ()  # called with every logged record (the access layer's settlement)
    cache: ResponseCache | None = None  # the response cache ([cache] enabled)
    runtime: RuntimeMonitor | None = None  # local runtimes' state (smallfirst.runtime), polled by the gateway

    def engine(self, observers: Sequence[Observer] = ()) -> Engine:
        """The engine over this pipeline; ``observers`` (e.g. the server's metrics) are called after the
        pipeline's own."""
        r = self.settings.routing
        return Engine(self.tiers, self.router, self.store, signals=self.signals, policies=self.policies,
                      fallback_up_chain=r.fallback_up_chain, max_escalations=r.max_escalations,
                      store_prompts=self.settings.log.store_prompts, observers=(*self.observers, *observers),
                      checker=self.checker, boundary=self.boundary, cache=self.cache)


def build_pipeline(settings: Settings) -> Pipeline:
    from smallfirst.access import open_access
    from smallfirst.config.registry import plugin_policies
    from smallfirst.policy import ContextWindowPolicy
    from smallfirst.policy.capability import CapabilityPolicy
    from smallfirst.policy.latency_budget import LatencyBudgetPolicy
    from smallfirst.policy.sticky import StickyPolicy
    from smallfirst.routing.governed import GovernedRouter
    from smallfirst.runtime import build_monitor, build_runtimes

    residency = build_residency(settings)
    runtimes = build_runtimes(settings)  # what local runtimes report: capabilities, loaded or cold, queue
    tiers = build_tiers(settings, residency.policy if residency.masks else None, runtimes)
    monitor = build_monitor(settings, runtimes, {e.backend.name: e.backend for t in tiers for e in t.endpoints
                                                 if e.capabilities.in_process})
    policies: list[Policy] = [] if residency.policy is None else [residency.policy]
    policies.append(ContextWindowPolicy.from_tiers(tiers))
    policies.append(CapabilityPolicy(tiers))
    policies.append(LatencyBudgetPolicy(tiers, monitor.expected_ms, default_ms=settings.routing.max_latency_ms,
                                        by_key=settings.routing.key_max_latency_ms,
                                        sensitive=settings.routing.over_budget_sensitive))
    if settings.routing.sticky:
        policies.append(StickyPolicy([t.name for t in tiers], ttl_s=settings.routing.sticky_ttl_s))
    policies.extend(plugin_policies(settings))
    store = build_store(settings)
    if settings.routing.shadow_share > 0 and len(tiers) > 1:  # last: it sees the tiers every other policy allowed
        from smallfirst.policy.shadow import ShadowPolicy

        policies.append(ShadowPolicy(tiers, store, share=settings.routing.shadow_share, boundary=residency.boundary,
                                     store_prompts=settings.log.store_prompts))
    access = open_access(settings, tiers)
    router = build_router(settings)
    observers: list[Observer] = [access.observe]
    if monitor:
        observers.append(monitor.observe)  # load and service times learned from what was served
    if isinstance(router, GovernedRouter):
        observers.append(router.observe)  # the mix governor counts the tier that served
        from smallfirst.routing.shared_mix import SharedWindow, reader_for

        read = reader_for(store, settings)  # replicas on one log steer on its window (routing/shared_mix.py)
        if read is not None:
            router.share(SharedWindow(read, router.governor.window, refresh_s=settings.routing.governor_refresh_s))
    return Pipeline(settings, tuple(tiers), tuple(policies), router, store,
                    residency.signals, access, build_checker(settings, tiers), residency.boundary,
                    tuple(observers), build_cache(settings), monitor)
