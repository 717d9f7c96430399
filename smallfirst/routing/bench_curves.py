"""Cost-quality figures of a router sweep for any number of tiers, and the null band they are read against.

From the (cost, quality) points of a threshold sweep (:func:`smallfirst.routing.sweep.cost_quality_points`)
and their upper hull: AIQ, the cost needed for 95 % and 90 % of the top tier's quality, and the quality
reached at a budget (a share of the way from the cheapest tier's cost to the dearest's). The **null band**
pushes random scores through the *same* sweep: a router whose figure is inside the band has shown nothing
that a coin could not — the sweep's many threshold settings alone lift any router above the three-point
"random" hull of always-one-tier mixes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from smallfirst.routing import metrics as M
from smallfirst.routing.model import F64

QUALITY_SHARES = (0.95, 0.90)
BUDGETS = (0.25, 0.5)  # share of the way from the cheapest tier's cost to the dearest's
NULL_DRAWS = 20


def cost_for(x: F64, q: F64, target: float) -> float | None:
    """Least cost on the upper hull that reaches quality ``target`` (None: never reached)."""
    hx, hy = M.upper_hull(x, q)
    if hy.max() < target:
        return None
    i = int(np.argmax(hy >= target))
    if i == 0:
        return float(hx[0])
    return float(np.interp(target, [hy[i - 1], hy[i]], [hx[i - 1], hx[i]]))


def quality_at(x: F64, q: F64, budget: float) -> float:
    """Best quality on the upper hull at cost ≤ ``budget`` (linear between hull points)."""
    hx, hy = M.upper_hull(x, q)
    if budget < hx[0]:
        return 0.0
    return float(np.interp(budget, hx, hy))


def figures(x: F64, q: F64, top_quality: float, c_min: float, c_max: float) -> dict[str, float | None]:
    out: dict[str, float | None] = {"aiq": M.aiq(x, q, c_min, c_max)}
    for share in QUALITY_SHARES:
        out[f"cost_{round(share * 100)}"] = cost_for(x, q, share * top_quality)
    for b in BUDGETS:
        out[f"q_at_{round(b * 100)}"] = quality_at(x, q, c_min + b * (c_max - c_min))
    return out


def null_band(sweep: Callable[[F64], tuple[F64, F64]], n: int, k1: int, top_quality: float, c_min: float,
              c_max: float, seeds: Sequence[int], draws: int = NULL_DRAWS) -> dict[str, Any]:
    """Each figure's (min, max) over ``draws`` random score matrices per seed, through ``sweep``."""
    vals: dict[str, list[float]] = {}
    for seed in seeds:
        rng = np.random.default_rng(10_000 + seed)
        for _ in range(draws):
            x, q = sweep(rng.random((n, k1)))
            for key, v in figures(x, q, top_quality, c_min, c_max).items():
                if v is not None:
                    vals.setdefault(key, []).append(v)
    return {key: [float(min(v)), float(max(v))] for key, v in vals.items()}


def outside(value: float | None, band: Sequence[float] | None, higher_is_better: bool = True) -> bool | None:
    """True when ``value`` is better than the whole band (None when either is unknown)."""
    if value is None or not band:
        return None
    return value > band[1] if higher_is_better else value < band[0]
