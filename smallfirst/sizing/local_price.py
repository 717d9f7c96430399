"""The local cost figures a plan used, for ``plan --write``: ``[costs.local]`` and the local endpoint's speeds.

Only what differs from the serve-time defaults is written, so the gateway's ``cost.local_basis`` still cites
where each figure comes from: the catalog ``profile`` the plan matched (its cited price and power), the
``--hardware-cost`` / ``--power-watts`` / ``--tariff`` / ``--horizon-months`` given, and a ``utilisation``
derived from the planned volume: local requests a day × machine seconds per request ÷ 86,400 — the same
spreading of the hardware over local requests as the plan's monthly costs.
"""

from __future__ import annotations

from typing import Any

from smallfirst.config.schema import Settings
from smallfirst.core.local_cost import (
    DEFAULT_LIFETIME_YEARS,
    DEFAULT_USD_PER_KWH,
    LocalRate,
)
from smallfirst.sizing.plan import Plan


def planned_utilisation(p: Plan) -> float | None:
    """Share of the day the machine is busy with the planned local traffic (None: unknown or no traffic)."""
    lc = p.local_costs
    if lc is None or lc.seconds_per_request <= 0:
        return None
    busy = p.workload.requests_per_day * p.mix.local * lc.seconds_per_request / 86400
    return round(min(busy, 1.0), 4) if busy > 0 else None


def machine_figures(p: Plan) -> dict[str, Any]:
    """``[costs.local]``: the plan's machine figures, where they differ from the defaults."""
    lc, o = p.local_costs, p.options
    if lc is None:
        return {}
    out: dict[str, Any] = {}
    if p.machine.profile_id is not None:
        out["profile"] = p.machine.profile_id
    if o.hardware_usd is not None:  # else the profile's cited price, or the default (0: already paid for)
        out["hardware_usd"] = lc.hardware_usd
    if o.power_w is not None:  # else the profile's cited power, or the default assumption (plan's too)
        out["watts"] = lc.power_w
    if lc.tariff_usd_per_kwh != DEFAULT_USD_PER_KWH:
        out["usd_per_kwh"] = lc.tariff_usd_per_kwh
    if lc.horizon_months / 12 != DEFAULT_LIFETIME_YEARS:
        out["lifetime_years"] = round(lc.horizon_months / 12, 4)
    util = planned_utilisation(p)
    if util is not None:
        out["utilisation"] = util
    return out


def speed_figures(p: Plan) -> dict[str, Any] | None:
    """The local endpoint's ``local_cost`` table: the planned model's estimated speeds (None: not estimated)."""
    c = p.chosen
    if c is None or c.speed is None:
        return None
    out: dict[str, Any] = {"decode_tokens_per_s": round(c.speed.decode_tps, 2)}
    if c.speed.prefill_tps is not None:
        out["prefill_tokens_per_s"] = round(c.speed.prefill_tps, 2)
    if p.options.parallel > 1:
        out["parallel"] = p.options.parallel
    return out


def add_to(doc: dict[str, Any], p: Plan) -> None:
    """Put the figures into a config document whose first tier is the planned local one; the speeds only when
    that endpoint serves the planned model (not the bundled stand-in)."""
    tiers = doc.get("tiers", [])
    if not tiers or tiers[0]["name"] != "local" or p.local_costs is None:
        return
    figures = machine_figures(p)
    if figures:
        doc["costs"] = {"local": figures}
    ep = tiers[0]["endpoints"][0]
    c = p.chosen
    speeds = speed_figures(p)
    if c is not None and speeds and ep.get("model") in (c.model.id, c.model.ollama_tag):
        ep["local_cost"] = speeds


def header(settings: Settings, p: Plan) -> list[str]:
    """Header lines: how the written local tier's answers will be priced (none when there is no local tier)."""
    from dataclasses import replace

    from smallfirst.pipeline.local_cost import rate_for

    first = settings.tiers[0]
    rate = rate_for(settings, first.endpoints[0]) if first.name == "local" else None
    if rate is None:
        return []
    util = planned_utilisation(p)
    if util is not None and p.local_costs is not None and settings.costs.local.utilisation == util:
        why = (f"planned: {p.workload.requests_per_day * p.mix.local:,.0f} local requests/day × "
               f"{p.local_costs.seconds_per_request:.3g} s of the machine each ÷ 86,400 s")
        rate = replace(rate, sources=tuple((k, why if k == "utilisation" else v) for k, v in rate.sources))
    return note(rate)


def note(rate: LocalRate) -> list[str]:
    """Header lines for the written file: the rate and where each figure comes from."""
    per_mtok = rate.usd_per_mtok_output()
    lines = [f"local cost (logged as local_cost_usd, apart from API spend): ${rate.usd_per_s * 3600:.4f} per hour "
             f"of generation = hardware ${rate.hardware_usd:g} over {rate.lifetime_years:g} years at "
             f"{100 * rate.utilisation:.3g} % use + {rate.watts:g} W at ${rate.usd_per_kwh:g}/kWh"
             + (f" (${per_mtok:.4f} per million output tokens)" if per_mtok is not None else "")]
    lines += [f"  {name}: {src}" for name, src in rate.sources]
    return lines
