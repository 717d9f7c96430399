"""Routing quality metrics (pure numpy; no I/O).

Two tiers (RouteLLM, arXiv:2406.18665): a router gives each prompt a score, and the top-scored share
``c`` goes to the strong tier. ``q(c)`` is the mean quality; ties in the score are split at random, and
the curve here is the exact expectation (a tied block contributes its mean gain pro rata), so ``q`` is
piecewise linear between the grid points ``c = k/n``.

* ``PGR(c) = (q(c) - q_weak) / (q_strong - q_weak)``; ``APGR = ∫₀¹ PGR(c) dc`` (random = 0.5).
* ``CPT(x)``: the smallest strong-call share with ``PGR ≥ x`` (interpolated on the exact curve).
* ``c@95%``: the smallest strong-call share with ``q(c) ≥ 0.95 · q_strong``.
* Oracle: knows both outcomes; calls the strong tier only where it scores strictly higher, largest gain
  first; flat after that (its APGR can exceed 1).

N tiers (RouterBench, arXiv:2403.12031): a router swept over its parameter gives (cost, quality)
points; AIQ is the area under their non-decreasing upper convex hull over ``[c_min, c_max]`` (the
cheapest and dearest single tier's cost), divided by ``c_max - c_min``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

F = npt.NDArray[np.float64]


def quality_curve(route_scores: npt.ArrayLike, weak: npt.ArrayLike, strong: npt.ArrayLike) -> tuple[F, F]:
    """Exact expected (c, q) on the grid ``c = k/n`` when the top-scored prompts go to the strong tier."""
    s = np.asarray(route_scores, dtype=np.float64)
    w = np.asarray(weak, dtype=np.float64)
    g = np.asarray(strong, dtype=np.float64) - w
    n = len(s)
    if n == 0:
        raise ValueError("quality_curve needs at least one prompt")
    order = np.argsort(-s, kind="stable")
    ss, gg = s[order], g[order]
    # split ties at random → each tied block contributes its mean gain per prompt
    starts = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1]])
    sums = np.add.reduceat(gg, starts)
    sizes = np.diff(np.r_[starts, n])
    gg = np.repeat(sums / sizes, sizes)
    q = w.mean() + np.r_[0.0, np.cumsum(gg)] / n
    return np.arange(n + 1, dtype=np.float64) / n, q


def oracle_curve(weak: npt.ArrayLike, strong: npt.ArrayLike) -> tuple[F, F]:
    """The oracle's (c, q): strictly positive gains first, largest first; flat afterwards."""
    w = np.asarray(weak, dtype=np.float64)
    g = np.asarray(strong, dtype=np.float64) - w
    gains = np.sort(np.clip(g, 0.0, None))[::-1]
    n = len(w)
    q = w.mean() + np.r_[0.0, np.cumsum(gains)] / n
    return np.arange(n + 1, dtype=np.float64) / n, q


def random_curve(weak: npt.ArrayLike, strong: npt.ArrayLike) -> tuple[F, F]:
    """A random router's expected (c, q): the straight line from q_weak to q_strong."""
    w = np.asarray(weak, dtype=np.float64)
    s = np.asarray(strong, dtype=np.float64)
    c = np.arange(len(w) + 1, dtype=np.float64) / len(w)
    return c, w.mean() + c * (s.mean() - w.mean())


def pgr(q: F, q_weak: float, q_strong: float) -> F:
    gap = q_strong - q_weak
    if gap == 0:
        return np.full_like(q, np.nan)
    return (q - q_weak) / gap


def apgr(c: F, q: F, q_weak: float, q_strong: float) -> float:
    """Area under PGR(c) over c ∈ [0, 1] (trapezoid rule: exact for the piecewise-linear curve)."""
    p = pgr(q, q_weak, q_strong)
    return float(np.sum((p[1:] + p[:-1]) * np.diff(c)) / 2.0)


def apgr_11(c: F, q: F, q_weak: float, q_strong: float) -> float:
    """RouteLLM's evaluator style: PGR at 11 evenly spaced strong-call shares, trapezoid rule."""
    grid = np.linspace(0.0, 1.0, 11)
    p = pgr(np.interp(grid, c, q), q_weak, q_strong)
    return float(np.sum((p[1:] + p[:-1]) * 0.1) / 2.0)


def first_crossing(c: F, y: F, target: float) -> float | None:
    """Smallest c where the piecewise-linear y(c) reaches ``target`` (None if it never does)."""
    hit = np.flatnonzero(y >= target - 1e-12)
    if len(hit) == 0:
        return None
    k = int(hit[0])
    if k == 0:
        return float(c[0])
    y0, y1 = y[k - 1], y[k]
    frac = (target - y0) / (y1 - y0) if y1 != y0 else 1.0
    return float(c[k - 1] + frac * (c[k] - c[k - 1]))


def cpt(c: F, q: F, q_weak: float, q_strong: float, x: float) -> float | None:
    """Call-performance threshold: strong-call share needed to recover ``x`` of the weak→strong gap."""
    if q_strong == q_weak:
        return None
    return first_crossing(c, pgr(q, q_weak, q_strong), x)


def calls_for_quality(c: F, q: F, target: float) -> float | None:
    """Smallest strong-call share with quality ≥ ``target`` (e.g. 0.95 · q_strong)."""
    return first_crossing(c, q, target)


def two_tier_summary(c: F, q: F, q_weak: float, q_strong: float) -> dict[str, float | None]:
    """APGR, APGR-11, CPT(50%), CPT(80%) and c@95% for one curve."""
    return {
        "apgr": apgr(c, q, q_weak, q_strong) if q_strong != q_weak else None,
        "apgr_11": apgr_11(c, q, q_weak, q_strong) if q_strong != q_weak else None,
        "cpt50": cpt(c, q, q_weak, q_strong, 0.5),
        "cpt80": cpt(c, q, q_weak, q_strong, 0.8),
        "c_at_95": calls_for_quality(c, q, 0.95 * q_strong),
    }


def roc_auc(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float | None:
    """ROC-AUC with ties counted half (Mann-Whitney U); None when only one class is present."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    npos, nneg = int(y.sum()), int((~y).sum())
    if npos == 0 or nneg == 0:
        return None
    order = np.argsort(s, kind="stable")
    ranks = np.empty(len(s))
    ss = s[order]
    starts = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1]])
    ends = np.r_[starts[1:], len(s)]
    avg = (starts + ends - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y].sum() - npos * (npos + 1) / 2.0) / (npos * nneg))


def upper_hull(costs: Sequence[float] | F, quals: Sequence[float] | F) -> tuple[F, F]:
    """Non-decreasing upper convex hull of (cost, quality) points, sorted by cost."""
    pts = sorted(set(zip(np.asarray(costs, dtype=float).tolist(), np.asarray(quals, dtype=float).tolist(),
                         strict=True)))
    hull: list[tuple[float, float]] = []
    for p in pts:
        if hull and p[1] <= hull[-1][1]:
            continue  # never decreasing: a dearer point that is not better adds nothing
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) >= 0:
                hull.pop()  # hull[-1] lies on or under the chord hull[-2] → p
            else:
                break
        hull.append(p)
    return np.array([h[0] for h in hull]), np.array([h[1] for h in hull])


def aiq(costs: Sequence[float] | F, quals: Sequence[float] | F, c_min: float, c_max: float) -> float:
    """Average quality over the cost range: area under the upper hull on [c_min, c_max] / (c_max - c_min).

    Left of the hull's first point nothing is achievable (counted as 0 quality only if the hull starts
    right of ``c_min``; routers that include their all-cheapest point start at ``c_min``); right of its
    last point the quality stays flat.
    """
    if c_max <= c_min:
        raise ValueError("aiq needs c_max > c_min")
    hx, hy = upper_hull(costs, quals)
    lo = max(c_min, float(hx[0]))
    if lo >= c_max:
        return 0.0
    inner = hx[(hx > lo) & (hx < c_max)]
    xs: F = np.concatenate([[lo], inner, [c_max]])
    ys: F = np.interp(xs, hx, hy)  # flat right of the last hull point
    return float(np.sum((ys[1:] + ys[:-1]) * np.diff(xs)) / 2.0 / (c_max - c_min))
