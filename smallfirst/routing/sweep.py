"""Threshold sweeps in cost-quality space: a router's sweep over thresholds on its goodness scores, and the
oracle's λ-sweep — the points whose upper hulls the benchmark figures read (:mod:`smallfirst.routing.bench_curves`)."""

from __future__ import annotations

import itertools

import numpy as np

from smallfirst.routing.calibrate import choose_tiers
from smallfirst.routing.model import F64


def cost_quality_points(goodness: F64, scores: F64, costs: F64, grid: int = 21) -> tuple[F64, F64]:
    """(cost, quality) of a router swept over thresholds on per-tier percentile-normalised goodness."""
    n, k1 = goodness.shape
    ranks = np.argsort(np.argsort(goodness, axis=0, kind="stable"), axis=0) / max(n - 1, 1)
    levels = np.linspace(0.0, 1.0001, grid)
    combos = itertools.product(levels, repeat=k1) if k1 <= 2 else ((lv,) * k1 for lv in levels)
    xs, ys = [], []
    rows = np.arange(n)
    for thr in combos:
        pick = choose_tiers(ranks, np.asarray(thr))
        xs.append(float(costs[rows, pick].mean()))
        ys.append(float(scores[rows, pick].mean()))
    return np.array(xs), np.array(ys)


def oracle_points(scores: F64, costs: F64, grid: int = 200) -> tuple[F64, F64]:
    """The oracle for N tiers: per prompt argmax(quality − λ·cost), cheapest on ties; λ swept."""
    span = float(np.ptp(costs)) or 1.0
    xs, ys = [], []
    rows = np.arange(len(scores))
    for lam in np.r_[0.0, np.geomspace(1e-4, 1e3, grid)] / span:
        util = scores - lam * costs - 1e-12 * np.arange(scores.shape[1])
        pick = np.argmax(util, axis=1)
        xs.append(float(costs[rows, pick].mean()))
        ys.append(float(scores[rows, pick].mean()))
    return np.array(xs), np.array(ys)
