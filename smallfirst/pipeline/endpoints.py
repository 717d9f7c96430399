"""Endpoints, built once with their wrappers stacked in one visible order.

For each ``[[tiers.endpoints]]`` entry, from the inside out:

1. the backend the registry names (the embedded backend follows a ``promoted.json`` pointer itself:
   promotion swaps the model it serves, never the object);
2. :func:`smallfirst.resilience.resilient` — circuit breaker, retries, stream timeouts;
3. :class:`smallfirst.policy.redacting.RedactingBackend` — only on endpoints off this host and only when
   redaction is configured: masks what leaves, restores the answer (outside resilience, so every retry
   sends the same masked request).

The result is a frozen :class:`~smallfirst.core.tiers.Endpoint` carrying its price, location and (when
it masks) what it masks, and — priced as own hardware — its local cost rate (pipeline/local_cost.py);
nothing replaces its backend later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from smallfirst.config.location import endpoint_key, resolve_location
from smallfirst.config.registry import backend_factory
from smallfirst.config.schema import EndpointConfig, Settings
from smallfirst.core.protocols import Backend
from smallfirst.core.tiers import Endpoint, Tier
from smallfirst.core.types import FREE, Price
from smallfirst.pipeline.local_cost import rate_for

if TYPE_CHECKING:
    from smallfirst.policy.residency import ResidencyPolicy
    from smallfirst.runtime import EndpointRuntime


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
    """Layers 1–2: the endpoint's backend inside its circuit breaker / retry / stream-timeout wrapper."""
    from smallfirst.resilience import resilient

    backend: Backend = backend_factory(cfg.backend)(cfg)
    return resilient(backend, cfg)


def build_tiers(settings: Settings, masking: ResidencyPolicy | None = None,
                runtimes: Mapping[tuple[int, int], EndpointRuntime] | None = None) -> list[Tier]:
    """Every tier's endpoints; with ``masking`` (redaction configured), endpoints off this host get layer 3;
    with ``runtimes`` (smallfirst.runtime), what each runtime reports feeds the endpoint's capabilities and a
    balanced tier's order."""
    from smallfirst.runtime import preference, with_warm

    tiers: list[Tier] = []
    rts = runtimes or {}
    for i, t in enumerate(settings.tiers):
        eps: list[Endpoint] = []
        for j, e in enumerate(t.endpoints):
            where = resolve_location(e, key=endpoint_key(i, j))
            e = with_warm(e, settings)  # Ollama's keep_alive for the endpoint's warm mode
            backend = build_backend(e)
            learned = rts[(i, j)].capabilities if (i, j) in rts else None
            rate = rate_for(settings, e)
            if masking is not None and where.location != "local":
                from smallfirst.policy.redacting import RedactingBackend

                redacting = RedactingBackend(backend, masking, t.name)
                eps.append(Endpoint(redacting, price_of(e), where.on_host, where.location, redacting.redaction,
                                    e.capabilities.fields(), learned, rate))
            else:
                eps.append(Endpoint(backend, price_of(e), where.on_host, where.location, None, e.capabilities.fields(),
                                    learned, rate))
        watched = [rts.get((i, j)) for j in range(len(t.endpoints))]
        prefer = preference(watched) if t.strategy == "balanced" and any(watched) else None
        tiers.append(Tier(t.name, eps, t.strategy, prefer=prefer))
    return tiers
