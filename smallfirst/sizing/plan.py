"""Workload + machine → a plan: the local model, the tier mix, monthly costs and the break-even volume."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from smallfirst.catalog import ApiPrice, Catalog, ModelInfo
from smallfirst.core.errors import BadRequestError
from smallfirst.sizing import recommend
from smallfirst.sizing.cost import (
    DAYS_PER_MONTH,
    LocalCosts,
    Strategy,
    Workload,
    break_even_requests_per_day,
    strategy,
)
from smallfirst.sizing.machine import Machine
from smallfirst.sizing.recommend import Candidate

DEFAULT_MID = "gpt-5-mini"
DEFAULT_FRONTIER = "gpt-5"
DEFAULT_TARIFF_USD_PER_KWH = 0.30  # assumption; set --tariff
DEFAULT_POWER_W = 100.0  # assumption for machines without a cited power figure; set --power-watts


@dataclass(frozen=True, slots=True)
class PlanOptions:
    context: int = 4096
    parallel: int = 1
    kv_cache_type: str = "f16"
    quants: Sequence[str] = (recommend.AUTO,)
    efficiency: float | None = None
    min_tps: float = recommend.MIN_DECODE_TPS
    allow_noncommercial: bool = False
    mid_model: str = DEFAULT_MID
    frontier_model: str = DEFAULT_FRONTIER
    tariff_usd_per_kwh: float = DEFAULT_TARIFF_USD_PER_KWH
    power_w: float | None = None
    idle_w: float = 0.0
    hardware_usd: float | None = None
    flash_attention: bool = False
    only_models: Sequence[ModelInfo] | None = None  # restrict the shortlist (e.g. `plan --model X --write`)


@dataclass(frozen=True, slots=True)
class TierMix:
    local: float
    mid: float
    frontier: float
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"local": round(self.local, 3), "mid": round(self.mid, 3), "frontier": round(self.frontier, 3),
                "reasons": list(self.reasons)}


def recommend_mix(w: Workload, local: Candidate | None, capacity_rpd: float | None) -> TierMix:
    """Narrow tasks → local, open knowledge → mid, multi-step reasoning → frontier; sensitive stays local."""
    loc, mid, front = w.narrow, w.knowledge, w.reasoning
    reasons = [f"task mix: {w.narrow:.0%} narrow → local, {w.knowledge:.0%} knowledge → mid, "
               f"{w.reasoning:.0%} reasoning → frontier"]
    if local is None:
        reasons.append("no local model fits this machine at a usable speed: narrow tasks go to the mid tier")
        if w.sensitive_share > 0:
            reasons.append(f"WARNING: {w.sensitive_share:.0%} sensitive requests have no local model and would "
                           "be refused (fail closed)")
        return TierMix(0.0, loc + mid, front, tuple(reasons))
    if w.sensitive_share > 0:
        moved = w.sensitive_share * (mid + front)
        loc, mid, front = loc + moved, mid * (1 - w.sensitive_share), front * (1 - w.sensitive_share)
        reasons.append(f"{w.sensitive_share:.0%} of requests are sensitive and stay local (+{moved:.0%} local)")
    if capacity_rpd is not None and w.requests_per_day > 0:
        cap_share = capacity_rpd / w.requests_per_day
        floor = w.sensitive_share  # sensitive requests may not leave even when the machine is busy
        if loc > cap_share:
            new_loc = max(min(loc, cap_share), floor)
            reasons.append(f"one machine serves ~{capacity_rpd:,.0f} requests/day at the estimated latency: "
                           f"local share capped at {new_loc:.0%}, overflow to mid")
            mid += loc - new_loc
            loc = new_loc
    return TierMix(loc, mid, front, tuple(reasons))


@dataclass(frozen=True, slots=True)
class Plan:
    machine: Machine
    workload: Workload
    options: PlanOptions
    candidates: list[Candidate]
    rejected: list[Candidate]
    mix: TierMix
    mid: ApiPrice
    frontier: ApiPrice
    strategies: tuple[Strategy, ...]
    local_costs: LocalCosts | None
    capacity_rpd: float | None
    assumptions: dict[str, Any] = field(default_factory=dict)

    @property
    def chosen(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def strategy(self, name: str) -> Strategy | None:
        return next((s for s in self.strategies if s.name == name), None)

    def break_even(self) -> dict[str, float | None]:
        front = self.strategies[0]
        return {s.name: break_even_requests_per_day(s, front) for s in self.strategies[1:]}


def _local_costs(machine: Machine, chosen: Candidate | None, w: Workload, o: PlanOptions,
                 notes: dict[str, Any]) -> LocalCosts | None:
    if chosen is None:
        return None
    power = o.power_w if o.power_w is not None else machine.power_w
    if power is None:
        power = DEFAULT_POWER_W
        notes["power_w"] = f"{DEFAULT_POWER_W:g} W assumed under load (no cited figure; set --power-watts)"
    hardware = o.hardware_usd if o.hardware_usd is not None else machine.price_usd
    if hardware is None:
        hardware = 0.0
        notes["hardware_usd"] = "0: hardware already owned or price unknown (set --hardware-cost)"
    seconds = chosen.speed.latency_s / o.parallel if chosen.speed else 0.0
    if chosen.speed is None:
        notes["energy"] = "busy time unknown without a bandwidth figure: energy counts idle watts only"
    return LocalCosts(hardware, power, o.idle_w, o.tariff_usd_per_kwh, w.horizon_months, seconds)


def make_plan(cat: Catalog, machine: Machine, w: Workload, o: PlanOptions) -> Plan:
    """Shortlist local models, choose a tier mix and price the three strategies."""
    fitting, rejected = recommend.shortlist(
        cat, machine, context=o.context, quants=o.quants, parallel=o.parallel, kv_cache_type=o.kv_cache_type,
        prompt_tokens=w.tokens_in, output_tokens=w.tokens_out, efficiency=o.efficiency,
        latency_target_s=w.latency_target_s, min_tps=o.min_tps, allow_noncommercial=o.allow_noncommercial,
        models=o.only_models, flash_attention=o.flash_attention)
    chosen = fitting[0] if fitting and fitting[0].fast_enough is not False else None
    if o.only_models is not None and not fitting:
        c = rejected[0]
        raise BadRequestError(f"{c.model.id} does not fit this machine: {rejection_reason(c, o.allow_noncommercial)}",
                              hint="pick a smaller model, a smaller --quant (e.g. Q3_K_M), a shorter --context, "
                                   "or --hardware with more memory")
    notes: dict[str, Any] = {
        "headroom": f"a model fits when it needs ≤ {1 - recommend.HEADROOM:.0%} of usable memory",
        "min_tokens_per_s": f"{o.min_tps:g} tok/s decode floor for a usable local tier",
        "tariff_usd_per_kwh": o.tariff_usd_per_kwh, "days_per_month": round(DAYS_PER_MONTH, 2),
        "usable_memory": machine.usable_basis,
    }
    if machine.bandwidth_gbps is None:
        notes["speed"] = "bandwidth unknown: pass --hardware, --bandwidth-gbps or --measure for speed estimates"
    capacity = 86400 * o.parallel / chosen.speed.latency_s if chosen and chosen.speed else None
    mix = recommend_mix(w, chosen, capacity)
    mid, front = cat.api_model(o.mid_model), cat.api_model(o.frontier_model)
    local = _local_costs(machine, chosen, w, o, notes)
    mp, fp = mid.to_price(), front.to_price()
    strategies = [strategy("all-frontier", (0.0, 0.0, 1.0), w, mp, fp, None),
                  strategy("tiered", (mix.local, mix.mid, mix.frontier), w, mp, fp, local, capacity)]
    if chosen is not None:
        strategies.append(strategy("local-only", (1.0, 0.0, 0.0), w, mp, fp, local, capacity))
    return Plan(machine, w, o, fitting, rejected, mix, mid, front, tuple(strategies), local, capacity, notes)


def plan_to_dict(p: Plan, top: int = 8) -> dict[str, Any]:
    w = p.workload
    chosen = p.chosen
    return {
        "machine": p.machine.as_dict(),
        "workload": {"requests_per_day": w.requests_per_day, "tokens_in": w.tokens_in, "tokens_out": w.tokens_out,
                     "mix": {"narrow": w.narrow, "knowledge": w.knowledge, "reasoning": w.reasoning},
                     "latency_target_s": w.latency_target_s, "sensitive_share": w.sensitive_share,
                     "horizon_months": w.horizon_months},
        "recommended_local": chosen.as_dict() if chosen else None,
        "shortlist": [c.as_dict() for c in p.candidates[:top]],
        "left_out": [{"model": c.model.id, "quant": c.memory.quant, "total_gb": round(c.memory.total_gb, 2),
                          "reason": rejection_reason(c, p.options.allow_noncommercial)} for c in p.rejected],
        "tier_mix": p.mix.as_dict(),
        "api_models": {"mid": {"id": p.mid.id, "input_per_mtok": p.mid.input_per_mtok,
                               "output_per_mtok": p.mid.output_per_mtok, "source": p.mid.to_price().source},
                       "frontier": {"id": p.frontier.id, "input_per_mtok": p.frontier.input_per_mtok,
                                    "output_per_mtok": p.frontier.output_per_mtok,
                                    "source": p.frontier.to_price().source}},
        "monthly_cost": [s.as_dict(w.requests_per_day, p.local_costs) for s in p.strategies],
        "break_even_requests_per_day": {k: None if v is None else round(v, 1) for k, v in p.break_even().items()},
        "local_capacity_requests_per_day": None if p.capacity_rpd is None else round(p.capacity_rpd),
        "assumptions": p.assumptions,
    }


def rejection_reason(c: Candidate, allow_noncommercial: bool) -> str:
    if c.fits and not c.model.commercial_use and not allow_noncommercial:
        return f"licence {c.model.license!r} forbids commercial use (pass --allow-noncommercial)"
    return f"needs {c.memory.total_gb:.1f} GB at {c.memory.quant}, {c.usable_gb:.1f} GB usable (90 % rule)"
