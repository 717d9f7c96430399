"""Calibration (pure): per-tier scores + outcomes → thresholds.

Decision rule shared with the learned router: a request goes to the cheapest tier ``t`` (not the top
one) whose score ``goodness[t] ≥ threshold[t]``; if none passes, to the top tier.

* ``calibrate_mix``: thresholds that reproduce a target tier mix (e.g. 70/20/10) on the calibration
  scores, tier by tier from the cheapest: tier ``t`` takes the best-scored ``mix[t]·n`` of the prompts
  that no cheaper tier took. Each threshold sits midway between the last prompt taken and the first
  one left, so held-out traffic splits close to the target.
* ``calibrate_quality``: one common threshold ``λ`` for every tier, the cheapest one (lowest mean cost)
  whose mean quality reaches ``target`` (e.g. 0.95 × the top tier's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from smallfirst.core.errors import BadRequestError

F64 = npt.NDArray[np.float64]
NEVER = 1.0 + 1e-9  # above every probability: the tier is never chosen by score
ALWAYS = -1e-9


def choose_tiers(goodness: F64, thresholds: F64) -> npt.NDArray[np.int64]:
    """Tier index per row: first ``t`` with ``goodness[:, t] ≥ thresholds[t]``, else the top tier."""
    n, k1 = goodness.shape
    passed = goodness >= np.asarray(thresholds)[None, :]
    pick = np.full(n, k1, dtype=np.int64)
    for t in range(k1 - 1, -1, -1):
        pick[passed[:, t]] = t
    return pick


def parse_mix(spec: str, tiers: Sequence[str]) -> list[float]:
    """``"local=0.7,mid=0.2,frontier=0.1"`` → fractions in tier order (missing tiers get 0)."""
    out = dict.fromkeys(tiers, 0.0)
    for part in spec.split(","):
        if not part.strip():
            continue
        name, sep, val = part.partition("=")
        name = name.strip()
        if not sep or name not in out:
            raise BadRequestError(f"bad target mix entry {part.strip()!r}",
                                  hint=f"use tier=fraction pairs for tiers {', '.join(tiers)}, "
                                       "e.g. local=0.7,mid=0.2,frontier=0.1")
        try:
            frac = float(val)
        except ValueError:
            raise BadRequestError(f"bad fraction in target mix entry {part.strip()!r}",
                                  hint="fractions are numbers between 0 and 1") from None
        if not 0.0 <= frac <= 1.0:
            raise BadRequestError(f"fraction {frac} for tier {name!r} is outside [0, 1]",
                                  hint="fractions are numbers between 0 and 1")
        out[name] = frac
    total = sum(out.values())
    if abs(total - 1.0) > 0.01:
        raise BadRequestError(f"target mix sums to {total:.3f}, not 1", hint="make the fractions add up to 1")
    return [out[t] / total for t in tiers]


def calibrate_mix(goodness: F64, mix: Sequence[float]) -> F64:
    """Thresholds (one per non-top tier) that give ``mix`` (fractions per tier, cheapest first)."""
    n, k1 = goodness.shape
    if len(mix) != k1 + 1:
        raise ValueError(f"mix has {len(mix)} entries for {k1 + 1} tiers")
    thr = np.full(k1, NEVER)
    left = np.ones(n, dtype=bool)
    cum = 0.0
    for t in range(k1):
        cum += mix[t]
        want = round(cum * n) - (n - int(left.sum()))  # prompts tier t should take
        cand = goodness[left, t]
        if want <= 0 or len(cand) == 0:
            thr[t] = NEVER
            continue
        v = np.sort(cand)[::-1]
        if want >= len(v):
            thr[t] = ALWAYS if v[-1] >= 0 else float(v[-1])
        else:
            hi, lo = float(v[want - 1]), float(v[want])
            thr[t] = (hi + lo) / 2.0 if hi > lo else hi
        left &= ~(goodness[:, t] >= thr[t])
    return thr


def realised_mix(goodness: F64, thresholds: F64) -> F64:
    pick = choose_tiers(goodness, thresholds)
    out: F64 = np.bincount(pick, minlength=goodness.shape[1] + 1) / max(len(pick), 1)
    return out


def calibrate_quality(goodness: F64, scores: F64, costs: F64, target: float,
                      grid: int = 1001) -> tuple[F64, float, float]:
    """Common threshold for all tiers: the lowest-cost one with mean quality ≥ ``target``.

    Returns (thresholds, quality, cost) on the calibration data; when no threshold reaches the target
    the top tier takes everything (thresholds ``NEVER``)."""
    n, k1 = goodness.shape
    rows = np.arange(n)
    cands = np.unique(np.r_[np.quantile(goodness, np.linspace(0, 1, grid)), NEVER])
    best: tuple[float, float, float] | None = None  # (cost, -quality, λ)
    for lam in cands:
        pick = choose_tiers(goodness, np.full(k1, lam))
        q = float(scores[rows, pick].mean())
        if q + 1e-12 < target:
            continue
        c = float(costs[rows, pick].mean())
        if best is None or (c, -q) < best[:2]:
            best = (c, -q, float(lam))
    if best is None:
        pick = np.full(n, k1)
        return np.full(k1, NEVER), float(scores[rows, pick].mean()), float(costs[rows, pick].mean())
    return np.full(k1, best[2]), -best[1], best[0]


def thresholds_dict(tiers: Sequence[str], thresholds: F64) -> dict[str, float]:
    return {t: float(v) for t, v in zip(tiers[:-1], thresholds, strict=True)}


def thresholds_array(tiers: Sequence[str], values: Mapping[str, float]) -> F64:
    return np.array([float(values.get(t, NEVER)) for t in tiers[:-1]])
