"""Settings → runtime objects (backends, tiers, router, policies, store), through the registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from smallfirst.config.location import endpoint_key, resolve_location
from smallfirst.config.registry import backend_factory, router_factory
from smallfirst.config.schema import EndpointConfig, Settings
from smallfirst.core.boundary import BoundaryCheck
from smallfirst.core.protocols import AnswerCheck, Backend, Policy, Router, Store
from smallfirst.core.tiers import Endpoint, Tier
from smallfirst.core.types import FREE, ChatRequest, Price, Signals


@dataclass(slots=True)
class Runtime:
    tiers: list[Tier]
    router: Router
    policies: list[Policy]
    store: Store
    signals: Callable[[ChatRequest], Signals]
    checker: AnswerCheck | None = None  # the cascade's contract check
    boundary: BoundaryCheck | None = None  # the thorough residency screen before a call leaves the host


def price_of(cfg: EndpointConfig) -> Price | None:
    """Explicit price in config, else free on this host only, else the catalog's cited price (None:
    unknown). An endpoint off this host — ``site`` included — is never assumed free: set its price to 0."""
    if cfg.price_input_per_mtok is not None or cfg.price_output_per_mtok is not None:
        return Price(cfg.price_input_per_mtok or 0.0, cfg.price_output_per_mtok or 0.0, "config")
    if resolve_location(cfg).on_host:
        return FREE
    from smallfirst.catalog import price_for

    return price_for(cfg.model)


def build_backend(cfg: EndpointConfig) -> Backend:
    """The endpoint's backend inside its circuit breaker / retry / stream-timeout wrapper."""
    from smallfirst.resilience import resilient

    backend: Backend = backend_factory(cfg.backend)(cfg)
    return resilient(backend, cfg)


def build_tiers(settings: Settings) -> list[Tier]:
    tiers: list[Tier] = []
    for i, t in enumerate(settings.tiers):
        eps: list[Endpoint] = []
        for j, e in enumerate(t.endpoints):
            where = resolve_location(e, key=endpoint_key(i, j))
            eps.append(Endpoint(build_backend(e), price_of(e), where.on_host, where.location))
        tiers.append(Tier(t.name, eps, t.strategy))
    return tiers


def build_router(settings: Settings) -> Router:
    router: Router = router_factory(settings.routing.router)(settings)
    return router


def build_store(settings: Settings) -> Store:
    if settings.log.url is not None:
        from smallfirst.store.postgres import PostgresStore

        return PostgresStore(settings.log.url, batch_size=settings.log.batch_size,
                             flush_interval_s=settings.log.flush_interval_s)
    from smallfirst.store.sqlite import SQLiteStore

    return SQLiteStore(settings.log.path, batch_size=settings.log.batch_size,
                       flush_interval_s=settings.log.flush_interval_s)


def build_policies(settings: Settings, tiers: list[Tier]
                   ) -> tuple[list[Policy], Callable[[ChatRequest], Signals], BoundaryCheck | None]:
    """Residency (fail closed, with the cheap sensitivity pass in the signals and the boundary screen before
    any call that leaves the host) and context-window policies."""
    from smallfirst.access import KeyTierPolicy
    from smallfirst.policy import ContextWindowPolicy, ResidencyPolicy
    from smallfirst.sensitivity import Detector
    from smallfirst.sensitivity.signal import with_sensitivity
    from smallfirst.signals import extract

    policies: list[Policy] = [KeyTierPolicy()]  # per API key: allowed tiers and budget left
    signals: Callable[[ChatRequest], Signals] = extract
    boundary: BoundaryCheck | None = None
    if settings.residency.enabled:
        detector = Detector.from_config(settings.residency)
        signals = with_sensitivity(extract, detector)
        residency = ResidencyPolicy.from_tiers(settings.residency, tiers, detector)
        policies.append(residency)
        if settings.residency.boundary and not all(e.location == "local" for t in tiers for e in t.endpoints):
            from smallfirst.policy.boundary import BoundaryGuard
            from smallfirst.sensitivity.boundary import BoundaryScreen

            # loaded once here (spaCy NER: about 2 s), and only when some endpoint is off this host
            boundary = BoundaryGuard(residency, BoundaryScreen.from_config(settings.residency, detector))
        if settings.residency.redaction or any(k.redaction for k in settings.residency.keys.values()):
            from smallfirst.policy.redacting import redact_remote

            redact_remote(tiers, residency)  # non-local endpoints get masked requests (when the key's setting says so)
    policies.append(ContextWindowPolicy.from_tiers(tiers))
    return policies, signals, boundary


def build_checker(settings: Settings, tiers: list[Tier]) -> AnswerCheck | None:
    """The cascade's contract check (None when ``cascade.enabled`` is off)."""
    if not settings.cascade.enabled:
        return None
    from smallfirst.cascade.checker import ContractCheck, local_tier_names

    return ContractCheck(settings.cascade, local_tier_names(tiers))


def resolve(settings: Settings) -> Runtime:
    tiers = build_tiers(settings)
    policies, signals, boundary = build_policies(settings, tiers)
    return Runtime(tiers=tiers, router=build_router(settings), policies=policies, store=build_store(settings),
                   signals=signals, checker=build_checker(settings, tiers), boundary=boundary)
