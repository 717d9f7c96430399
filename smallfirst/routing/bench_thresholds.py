"""Thresholds chosen on the training folds only: the cost, quality and mix a user actually gets.

The sweep figures of ``router bench`` (AIQ, cost for 95 %, c@95 %) pick each router's thresholds on the
test data itself — an optimistic, *oracle-threshold* view. Here, as ``router train`` + ``router calibrate``
do in production, each test fold's thresholds come from the training folds alone: the candidate is scored
out of fold *inside* the training rows (``INNER_FOLDS`` grouped folds), ``calibrate_quality`` (the cheapest
common threshold reaching 95 % of the top tier's training quality) and, when a target mix is given,
``calibrate_mix`` are run on those scores, and the thresholds are applied to the test fold's scores (from
the router fitted on all training rows). Reported per router: realised cost, quality, share of the top
tier's quality, how often the target was met and the realised mix — fold mean, then mean ± sd over seeds —
beside a null band of random scores put through the same calibration.

For the learned candidates the inner fits reuse the regularisation chosen on the training rows (as
``router train`` does for its out-of-fold scores), so the test-fold scores are exactly the sweep's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from smallfirst.routing.calibrate import calibrate_mix, calibrate_quality, choose_tiers
from smallfirst.routing.candidates import CANDIDATES, I64, BenchContext
from smallfirst.routing.model import F64
from smallfirst.routing.train import fit_model, grouped_folds, margins, select_cs

INNER_FOLDS = 3
QUALITY_SHARE = 0.95
CAL_GRID = 201  # candidate thresholds (quantiles of the training scores) for calibrate_quality
NULL_DRAWS = 5
LEARNED = ("learned", "learned-text", "learned-embed", "learned-both")
KEYS = ("cost", "cost_share", "quality", "quality_share", "met", "mix_error")


def fold_scores(name: str, ctx: BenchContext, tr: I64, te: I64, inner_folds: int = INNER_FOLDS,
                seed: int = 0) -> tuple[F64, F64 | None]:
    """(test goodness from the router fitted on ``tr``, out-of-fold goodness on ``tr``; None when
    ``inner_folds`` < 2)."""
    if inner_folds < 2:
        return CANDIDATES[name](ctx, tr, te), None
    table = ctx.table
    fid = grouped_folds(table.groups[tr], inner_folds, seed)
    g_tr = np.zeros((len(tr), len(table.tiers) - 1))
    if name in LEARNED:
        fm = ctx.features(name == "learned") if name in LEARNED[:2] else ctx.features_for(name.split("-")[1])
        cs = select_cs(fm, table.scores, tr, table.groups, ctx.kind, ctx.c)
        w, b, idf = fit_model(fm, table.scores, tr, ctx.kind, cs)
        g = margins(fm, te, w, b, idf)
        for j in range(inner_folds):
            a, held = tr[fid != j], tr[fid == j]
            if len(a) and len(held):
                w, b, idf = fit_model(fm, table.scores, a, ctx.kind, cs)
                g_tr[fid == j] = margins(fm, held, w, b, idf)
        return g, g_tr
    cand = CANDIDATES[name]
    for j in range(inner_folds):
        a, held = tr[fid != j], tr[fid == j]
        if len(a) and len(held):
            g_tr[fid == j] = cand(ctx, a, held)
    return cand(ctx, tr, te), g_tr


def to_unit(ref: F64, g: F64) -> F64:
    """Each column of ``g`` through the empirical CDF of the same column of ``ref`` (the training scores):
    rank-preserving, fitted on training rows only, and inside [0, 1) — so calibrate's probability bounds
    (``NEVER`` above every score, ``ALWAYS`` below) keep their meaning for raw margins and lengths."""
    out = np.zeros(g.shape)
    for t in range(g.shape[1]):
        col = np.sort(ref[:, t])
        out[:, t] = np.searchsorted(col, g[:, t], side="right") / (len(col) + 1.0)
    return out


def apply(g: F64, thr: F64, scores: F64, costs: F64, share: float | None = None,
          mix: Sequence[float] | None = None) -> dict[str, Any]:
    """Realised figures of thresholds ``thr`` on rows scored ``g``."""
    rows = np.arange(len(g))
    pick = choose_tiers(g, thr)
    q, c = float(scores[rows, pick].mean()), float(costs[rows, pick].mean())
    top_q, top_c = float(scores[:, -1].mean()), float(costs[:, -1].mean())
    real = np.bincount(pick, minlength=scores.shape[1]) / len(pick)
    return {"cost": c, "cost_share": c / top_c if top_c > 0 else None, "quality": q,
            "quality_share": q / top_q if top_q > 0 else None,
            "met": None if share is None else float(q + 1e-12 >= share * top_q),
            "mix_error": None if mix is None else float(np.abs(real - np.asarray(mix)).max()),
            "mix": real.tolist()}


def realised(g_tr: F64, g_te: F64, tr: I64, te: I64, scores: F64, costs: F64,
             mix: Sequence[float] | None = None, share: float = QUALITY_SHARE) -> dict[str, dict[str, Any]]:
    """Calibrate on (``g_tr``, rows ``tr``), apply to (``g_te``, rows ``te``): one entry per target."""
    u_tr, u_te = to_unit(g_tr, g_tr), to_unit(g_tr, g_te)
    target = share * float(scores[tr, -1].mean())
    thr, _, _ = calibrate_quality(u_tr, scores[tr], costs[tr], target, grid=CAL_GRID)
    out = {f"q{round(share * 100)}": apply(u_te, thr, scores[te], costs[te], share=share)}
    if mix is not None:
        out["mix"] = apply(u_te, calibrate_mix(u_tr, mix), scores[te], costs[te], mix=mix)
    return out


class HeldOut:
    """Collects realised figures per router, seed and fold (and for the random null) and summarises them."""

    def __init__(self, tiers: Sequence[str], mix: Sequence[float] | None = None, inner_folds: int = INNER_FOLDS,
                 share: float = QUALITY_SHARE) -> None:
        self.tiers, self.mix, self.inner_folds, self.share = tuple(tiers), mix, inner_folds, share
        self.rows: dict[str, dict[int, list[dict[str, dict[str, Any]]]]] = {}

    def add(self, name: str, seed: int, fig: dict[str, dict[str, Any]]) -> None:
        self.rows.setdefault(name, {}).setdefault(seed, []).append(fig)

    def add_null(self, seed: int, tr: I64, te: I64, scores: F64, costs: F64) -> None:
        """Random scores through the same calibration (``NULL_DRAWS`` draws, seeded per fold)."""
        rng = np.random.default_rng([20_000, seed, len(tr), int(te[:1].sum()) if len(te) else 0])
        k1 = scores.shape[1] - 1
        for d in range(NULL_DRAWS):
            fig = realised(rng.random((len(tr), k1)), rng.random((len(te), k1)), tr, te, scores, costs, self.mix,
                           self.share)
            self.add(f"null#{d}", seed, fig)

    def _one(self, per_seed: dict[int, list[dict[str, dict[str, Any]]]], target: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in KEYS:
            seed_means = [float(np.mean(v)) for figs in per_seed.values()
                          if (v := [f[target][key] for f in figs if f[target][key] is not None])]
            if seed_means:
                out[key] = float(np.mean(seed_means))
                out[f"{key}_sd"] = float(np.std(seed_means))
        mixes = np.array([f[target]["mix"] for figs in per_seed.values() for f in figs])
        out["mix"] = dict(zip(self.tiers, mixes.mean(axis=0).round(6).tolist(), strict=True))
        return out

    def targets(self) -> list[str]:
        return [f"q{round(self.share * 100)}", *(["mix"] if self.mix is not None else [])]

    def summary(self, name: str) -> dict[str, Any]:
        return {t: self._one(self.rows[name], t) for t in self.targets()} if name in self.rows else {}

    def null_band(self) -> dict[str, Any]:
        """Per target, each figure's (min, max) over the null draws (each draw: fold mean, seed mean)."""
        out: dict[str, Any] = {}
        draws = [self.summary(n) for n in self.rows if n.startswith("null#")]
        for t in self.targets():
            band: dict[str, list[float]] = {}
            for key in ("cost", "cost_share", "quality", "quality_share", "met"):
                vals = [d[t][key] for d in draws if key in d.get(t, {})]
                if vals:
                    band[key] = [float(min(vals)), float(max(vals))]
            out[t] = band
        return out

    def describe(self) -> dict[str, Any]:
        return {"method": f"thresholds calibrated on the training folds' out-of-fold scores ({self.inner_folds} "
                          "inner folds), applied to the test fold",
                "targets": {f"q{round(self.share * 100)}": f"{round(self.share * 100)}% of the top tier's quality "
                            "(calibrate --quality)", **({"mix": "target mix " + ", ".join(
                                f"{t}={m:.2f}" for t, m in zip(self.tiers, self.mix, strict=True))}
                                if self.mix is not None else {})},
                "null_band": self.null_band()}
