"""Settings → runtime objects (backends, tiers, router, policies, store), through the registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from smallfirst.config.registry import backend_factory, router_factory
from smallfirst.config.schema import EndpointConfig, Settings
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


def price_of(cfg: EndpointConfig) -> Price | None:
    """Explicit price in config, else free for local endpoints, else the catalog's cited price."""
    if cfg.price_input_per_mtok is not None or cfg.price_output_per_mtok is not None:
        return Price(cfg.price_input_per_mtok or 0.0, cfg.price_output_per_mtok or 0.0, "config")
    if cfg.is_local:
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
    for t in settings.tiers:
        eps = [Endpoint(build_backend(e), price_of(e), e.is_local, e.location or ("local" if e.is_local else
                                                                                 "remote"))
               for e in t.endpoints]
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


def build_policies(settings: Settings, tiers: list[Tier]) -> tuple[list[Policy], Callable[[ChatRequest], Signals]]:
    """Residency (fail closed, with sensitivity detection in the signals) and context-window policies."""
    from smallfirst.access import KeyTierPolicy
    from smallfirst.policy import ContextWindowPolicy, ResidencyPolicy
    from smallfirst.sensitivity import Detector
    from smallfirst.sensitivity.signal import with_sensitivity
    from smallfirst.signals import extract

    policies: list[Policy] = [KeyTierPolicy()]  # per API key: allowed tiers and budget left
    signals: Callable[[ChatRequest], Signals] = extract
    if settings.residency.enabled:
        detector = Detector.from_config(settings.residency)
        signals = with_sensitivity(extract, detector)
        residency = ResidencyPolicy.from_tiers(settings.residency, tiers, detector)
        policies.append(residency)
        if settings.residency.redaction or any(k.redaction for k in settings.residency.keys.values()):
            from smallfirst.policy.redacting import redact_remote

            redact_remote(tiers, residency)  # non-local endpoints get masked requests (when the key's setting says so)
    policies.append(ContextWindowPolicy.from_tiers(tiers))
    return policies, signals


def build_checker(settings: Settings, tiers: list[Tier]) -> AnswerCheck | None:
    """The cascade's contract check (None when ``cascade.enabled`` is off)."""
    if not settings.cascade.enabled:
        return None
    from smallfirst.cascade.checker import ContractCheck, local_tier_names

    return ContractCheck(settings.cascade, local_tier_names(tiers))


def resolve(settings: Settings) -> Runtime:
    tiers = build_tiers(settings)
    policies, signals = build_policies(settings, tiers)
    return Runtime(tiers=tiers, router=build_router(settings), policies=policies, store=build_store(settings),
                   signals=signals, checker=build_checker(settings, tiers))
