"""Config → one :class:`~smallfirst.core.local_cost.LocalRate` per endpoint, resolved once at start-up.

Each figure is taken from the endpoint's ``local_cost`` table, else ``[costs.local]``, else the catalog
hardware profile either names (its cited ``price_usd`` and ``power_w``), else the default assumption
(:mod:`smallfirst.core.local_cost`); where each came from travels with the rate (``sources``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from smallfirst.config.local_cost import LocalCostConfig
from smallfirst.config.location import resolve_location
from smallfirst.config.schema import EndpointConfig, Settings
from smallfirst.core.local_cost import (
    DEFAULT_HARDWARE_USD,
    DEFAULT_LIFETIME_YEARS,
    DEFAULT_USD_PER_KWH,
    DEFAULT_UTILISATION,
    DEFAULT_WATTS,
    LocalRate,
)
from smallfirst.core.tiers import Tier


def figures_for(settings: Settings, cfg: EndpointConfig) -> LocalCostConfig | None:
    """The figures that price ``cfg``: its own table over ``[costs.local]``; None when it is not priced (off
    this host without a table of its own, or ``enabled = false``)."""
    own = cfg.local_cost
    if own is None and not resolve_location(cfg).on_host:
        return None
    merged = own.over(settings.costs.local) if own is not None else settings.costs.local
    return None if merged.enabled is False else merged


def resolve(c: LocalCostConfig) -> LocalRate:
    """The rate from these figures, each unset one from the profile or the default, with its source."""
    sources: list[tuple[str, str]] = []
    profile = None
    if c.profile is not None:
        from smallfirst.catalog import load_catalog

        profile = load_catalog().hardware_profile(c.profile)

    def pick(name: str, given: float | None, cited: float | None, cited_source: str, default: float,
             why: str) -> float:
        if given is not None:
            sources.append((name, "config"))
            return float(given)
        if cited is not None:
            sources.append((name, cited_source))
            return float(cited)
        sources.append((name, why))
        return default

    pid = profile.id if profile else ""
    hardware = pick("hardware_usd", c.hardware_usd, profile.price_usd if profile else None,
                    f"catalog profile {pid}: {profile.source if profile else ''}", DEFAULT_HARDWARE_USD,
                    "default 0: price unknown or already paid for (set hardware_usd or profile)")
    watts = pick("watts", c.watts, profile.power_w if profile else None,
                 f"catalog profile {pid}: {profile.sources.get('power_source', profile.source) if profile else ''}",
                 DEFAULT_WATTS, f"assumption: {DEFAULT_WATTS:g} W under load, as `smallfirst plan` (set watts)")
    lifetime = pick("lifetime_years", c.lifetime_years, None, "", DEFAULT_LIFETIME_YEARS,
                    "default: plan's 24-month amortisation horizon")
    util = pick("utilisation", c.utilisation, None, "", DEFAULT_UTILISATION,
                "default 1.0: busy all its life, the least the hardware can cost per second")
    tariff = pick("usd_per_kwh", c.usd_per_kwh, None, "", DEFAULT_USD_PER_KWH,
                  f"assumption: {DEFAULT_USD_PER_KWH:g} USD/kWh, plan's default tariff (set usd_per_kwh)")
    if c.decode_tokens_per_s is not None:
        sources.append(("seconds", "tokens ÷ configured tokens/s"))
    else:
        sources.append(("seconds", "each attempt's measured duration"))
    return LocalRate(hardware, lifetime, util, watts, tariff, c.decode_tokens_per_s, c.prefill_tokens_per_s,
                     c.parallel or 1, tuple(sources))


def rate_for(settings: Settings, cfg: EndpointConfig) -> LocalRate | None:
    """The endpoint's local cost model, or None when it is not priced as local hardware."""
    figures = figures_for(settings, cfg)
    return resolve(figures) if figures is not None else None


def tiers_basis(tiers: Sequence[Tier]) -> tuple[dict[str, Any], ...]:
    """What prices each built endpoint's answers as own hardware (the admin API's ``cost.local_basis``)."""
    return tuple({"tier": t.name, "endpoint": e.backend.name, **e.local_rate.as_dict()}
                 for t in tiers for e in t.endpoints if e.local_rate is not None)


def basis(settings: Settings) -> tuple[dict[str, Any], ...]:
    """What prices each endpoint's answers as own hardware, per endpoint (the dashboard's and report's)."""
    out = []
    for t in settings.tiers:
        for e in t.endpoints:
            rate = rate_for(settings, e)
            if rate is not None:
                out.append({"tier": t.name, "endpoint": e.label, **rate.as_dict()})
    return tuple(out)
