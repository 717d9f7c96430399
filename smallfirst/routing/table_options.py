"""Options that shape an outcome table before the router sees it: which model stands for each tier
(``--model-per-tier``) and what a call to each tier costs (``--tier-costs``).

Several models in one tier are not repeated runs of one model: averaging them builds a tier that does not
exist. So a tier that holds more than one model is refused unless ``--model-per-tier`` names the model to
keep (``local=mixtral-8x7b``: the exact id, or a case-insensitive part of exactly one id) or asks for the
average explicitly (``local=*``). Rows without a ``model`` field are not counted as a model of their own;
when a tier is mapped to a model they are dropped with the other models' rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from smallfirst.core.errors import BadRequestError
from smallfirst.routing.outcomes import Outcome, OutcomeTable

AVERAGE = "*"


def parse_pairs(spec: str | None, option: str, example: str) -> dict[str, str]:
    """``"a=x,b=y"`` → ``{"a": "x", "b": "y"}`` (empty or None → {})."""
    out: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        name, sep, val = part.partition("=")
        if not sep or not name.strip() or not val.strip():
            raise BadRequestError(f"bad {option} entry {part.strip()!r}", hint=f"use tier=value pairs, e.g. {example}")
        out[name.strip()] = val.strip()
    return out


def parse_model_map(spec: str | None) -> dict[str, str]:
    return parse_pairs(spec, "--model-per-tier", "local=mixtral-8x7b,frontier=gpt-4 (or local=* to average)")


def parse_tier_costs(spec: str | None) -> dict[str, float] | None:
    """``"local=0,frontier=1"`` → costs per tier (None when not given)."""
    pairs = parse_pairs(spec, "--tier-costs", "local=0,mid=0.2,frontier=1")
    if not pairs:
        return None
    out: dict[str, float] = {}
    for name, val in pairs.items():
        try:
            out[name] = float(val)
        except ValueError:
            raise BadRequestError(f"bad --tier-costs entry {name}={val}",
                                  hint="costs are numbers, e.g. local=0,mid=0.2,frontier=1") from None
        if not np.isfinite(out[name]) or out[name] < 0:
            raise BadRequestError(f"bad --tier-costs entry {name}={val}", hint="costs are non-negative numbers")
    return out


def models_by_tier(rows: Sequence[Outcome]) -> dict[str, list[str]]:
    """Distinct ``model`` ids per tier (rows without one are not counted), sorted."""
    seen: dict[str, set[str]] = {}
    for r in rows:
        slot = seen.setdefault(r.tier, set())
        if r.model:
            slot.add(r.model)
    return {t: sorted(m) for t, m in seen.items()}


def _resolve(tier: str, want: str, have: Sequence[str]) -> str:
    if want in have:
        return want
    hits = [m for m in have if want.lower() in m.lower()]
    if len(hits) == 1:
        return hits[0]
    listed = ", ".join(have) or "(no model field)"
    what = "matches several models" if hits else "matches no model"
    raise BadRequestError(f"--model-per-tier {tier}={want} {what} of tier {tier!r}",
                          hint=f"tier {tier!r} holds: {listed}")


def select_models(rows: Sequence[Outcome], mapping: Mapping[str, str],
                  tiers: Sequence[str] | None = None) -> tuple[list[Outcome], dict[str, str]]:
    """Keep, per tier, the rows of the model ``mapping`` names; refuse a tier with several models that the
    mapping leaves out. Returns the rows and what each tier stands for (a model id, or ``*`` averaged)."""
    have = models_by_tier(rows)
    unknown = [t for t in mapping if t not in have]
    if unknown:
        raise BadRequestError(f"--model-per-tier names tier(s) {', '.join(unknown)} that the outcomes lack",
                              hint=f"the outcomes have tiers: {', '.join(sorted(have))}")
    used = set(tiers) if tiers is not None else set(have)
    chosen: dict[str, str] = {}
    for t in sorted(have):
        want = mapping.get(t)
        if t not in used and want is None:
            continue
        if want == AVERAGE:
            chosen[t] = AVERAGE
        elif want is not None:
            chosen[t] = _resolve(t, want, have[t])
        elif len(have[t]) > 1:
            raise BadRequestError(
                f"tier {t!r} holds {len(have[t])} models ({', '.join(have[t])}); they are not repeated runs of "
                "one model", hint=f"pick one with --model-per-tier {t}={have[t][0]} (or {t}=* to average them)")
        elif have[t]:
            chosen[t] = have[t][0]
    keep = {t: m for t, m in chosen.items() if m != AVERAGE and t in mapping}
    out = [r for r in rows if r.tier not in keep or r.model == keep[r.tier]]
    return out, chosen


def with_tier_costs(table: OutcomeTable, tier_costs: Mapping[str, float] | None) -> OutcomeTable:
    """The table with every call to tier ``t`` costing ``tier_costs[t]`` (unchanged when None)."""
    if tier_costs is None:
        return table
    missing = [t for t in table.tiers if t not in tier_costs]
    if missing:
        raise BadRequestError(f"tier costs must name every tier ({', '.join(table.tiers)})",
                              hint="e.g. --tier-costs local=0,frontier=1")
    costs = np.tile(np.array([float(tier_costs[t]) for t in table.tiers]), (len(table), 1))
    return dataclasses.replace(table, costs=costs, cost_unit="given")


def costs_spec(tier_costs: Mapping[str, float] | None) -> str | None:
    """The ``--tier-costs`` string for a mapping (None stays None)."""
    return ",".join(f"{t}={v!r}" for t, v in tier_costs.items()) if tier_costs else None
