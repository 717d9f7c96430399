"""Cross-validated router benchmark (folds grouped by prompt text) on an outcome table.

For each seed, prompts are split into ``folds`` groups; every candidate router is fitted on the other
folds and scores the held-out fold. Two-tier metrics (APGR, CPT(50%), CPT(80%), c@95%) are computed per
test fold against that fold's own weak/strong quality, averaged over folds, then over seeds (± sd over
seeds), as in ``shared/notes/router-baselines.md``. The pooled out-of-fold scores give one curve per
router (``*_pooled``: APGR, CPT, c@95% and ROC-AUC on all prompts at once; random and oracle are computed
on all prompts directly) and, for any number of tiers, the cost-quality points whose upper hull
gives AIQ (RouterBench), the cost for 95 % / 90 % of the top tier's quality and the quality at a budget —
per seed, then mean (± sd) — beside a null band: random scores through the same threshold sweep
(:mod:`smallfirst.routing.bench_curves`). Only a router outside the band has learnt something.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from smallfirst.routing import metrics as M
from smallfirst.routing.bench_curves import figures, null_band, outside
from smallfirst.routing.bench_thresholds import HeldOut, fold_scores, realised
from smallfirst.routing.candidates import CANDIDATES, BenchContext
from smallfirst.routing.model import F64
from smallfirst.routing.outcomes import OutcomeTable
from smallfirst.routing.sweep import cost_quality_points, oracle_points
from smallfirst.routing.train import grouped_folds

Progress = Callable[[int], None]
TWO_TIER_KEYS = ("apgr", "apgr_11", "cpt50", "cpt80", "c_at_95")
POOLED_KEYS = ("apgr", "cpt50", "cpt80", "c_at_95")
THRESHOLD_VIEWS = {
    "held_out": "routers.*.held_out: thresholds calibrated on the training folds only, applied to the test fold "
                "(what a user gets; the headline)",
    "sweep": "apgr, cpt*, c_at_95, aiq, cost_*, q_at_*: oracle-threshold view — each point's thresholds are "
             "picked on the test data itself (optimistic; compare with null_band)",
}


@dataclass
class BenchResult:
    summary: dict[str, Any]
    curves: dict[str, tuple[F64, F64]] = field(default_factory=dict)  # name → (x, q), pooled OOF, seed 0
    points: dict[str, tuple[F64, F64]] = field(default_factory=dict)  # name → cost-quality hull points


def best_held_out(routers: dict[str, dict[str, Any]]) -> str:
    """The cheapest router at training-fold thresholds among those meeting the 95 % target in at least half
    the folds; when none does, the one closest to it in quality."""
    q = {nm: e["held_out"]["q95"] for nm, e in routers.items()}
    ok = [nm for nm, h in q.items() if (h.get("met") or 0.0) >= 0.5]
    if ok:
        return min(ok, key=lambda nm: q[nm].get("cost_share") or 0.0)
    return max(q, key=lambda nm: q[nm].get("quality_share") or 0.0)


def _mean(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None and not np.isnan(x)]
    return float(np.mean(vals)) if vals else None


def _fold_metrics(route: F64, w: F64, s: F64) -> dict[str, float | None]:
    c, q = M.quality_curve(route, w, s)
    return M.two_tier_summary(c, q, float(w.mean()), float(s.mean()))


def run_bench(table: OutcomeTable, candidates: Sequence[str], folds: int = 5, seeds: Sequence[int] = (0,),
              kind: str = "auto", c: float | None = None, progress: Progress | None = None,
              label: str = "", target_mix: Sequence[float] | None = None, held_out: bool = True,
              cross_domain: bool = True) -> BenchResult:
    """Benchmark the named candidate routers plus random, oracle and always-one-tier baselines; with
    ``held_out``, also at thresholds calibrated on the training folds only (:mod:`.bench_thresholds`), and
    with ``cross_domain``, leave-one-domain-out (:mod:`.bench_cross`) when the table holds several."""
    unknown = [s for s in candidates if s not in CANDIDATES]
    if unknown:
        raise ValueError(f"unknown router(s) {', '.join(unknown)}; choose from {', '.join(CANDIDATES)}")
    from smallfirst.routing.train import TrainSpec

    k = len(table.tiers)
    ctx = BenchContext(table=table, kind=TrainSpec(kind=kind).resolved_kind(table.scores), c=c)
    n_groups = len(np.unique(table.groups))
    folds = max(2, min(folds, n_groups))
    per: dict[str, dict[str, list[float | None]]] = {}
    pooled: dict[str, dict[str, list[float | None]]] = {}
    oofs: list[dict[str, F64]] = []  # pooled out-of-fold scores, one dict per seed
    two = k == 2
    ho = HeldOut(table.tiers, target_mix) if held_out else None
    w_all, s_all = table.scores[:, 0], table.scores[:, -1]
    for seed in seeds:
        fid = grouped_folds(table.groups, folds, seed)
        oof = {name: np.zeros((len(table), k - 1)) for name in candidates}
        fold_m: dict[str, list[dict[str, float | None]]] = {name: [] for name in [*candidates, "random", "oracle"]}
        for f in range(folds):
            tr, te = np.flatnonzero(fid != f), np.flatnonzero(fid == f)
            if len(te) == 0 or len(tr) == 0:
                continue
            w, s = table.scores[te, 0], table.scores[te, -1]
            for name in candidates:
                g, g_tr = fold_scores(name, ctx, tr, te, ho.inner_folds if ho else 0, seed)
                if ho is not None and g_tr is not None:
                    ho.add(name, seed, realised(g_tr, g, tr, te, table.scores, table.costs, ho.mix, ho.share))
                oof[name][te] = g
                if two:
                    fold_m[name].append(_fold_metrics(-g[:, 0], w, s))
                if progress is not None:
                    progress(1)
            if ho is not None:
                ho.add_null(seed, tr, te, table.scores, table.costs)
            if two:
                cr, qr = M.random_curve(w, s)
                fold_m["random"].append(M.two_tier_summary(cr, qr, float(w.mean()), float(s.mean())))
                co, qo = M.oracle_curve(w, s)
                fold_m["oracle"].append(M.two_tier_summary(co, qo, float(w.mean()), float(s.mean())))
        for name, ms in fold_m.items():
            slot = per.setdefault(name, {key: [] for key in TWO_TIER_KEYS})
            for key in TWO_TIER_KEYS:
                slot[key].append(_mean([m[key] for m in ms]))
        y_strong = table.scores[:, -1] > table.scores[:, 0]
        for name in candidates if two else ():
            ps = pooled.setdefault(name, {f"{key}_pooled": [] for key in (*POOLED_KEYS, "auc")})
            route = -oof[name][:, 0]
            cp, qp = M.quality_curve(route, w_all, s_all)
            summ = M.two_tier_summary(cp, qp, float(w_all.mean()), float(s_all.mean()))
            for key in POOLED_KEYS:
                ps[f"{key}_pooled"].append(summ[key])
            ps["auc_pooled"].append(M.roc_auc(route, y_strong))
        oofs.append(dict(oof))
    result = _assemble(table, candidates, per, pooled, oofs, folds, seeds, ctx.kind, label)
    result.summary["threshold_views"] = THRESHOLD_VIEWS
    if ho is not None:
        for name in candidates:
            result.summary["routers"][name]["held_out"] = ho.summary(name)
        result.summary["held_out"] = ho.describe()
        result.summary["best_held_out"] = best_held_out({nm: result.summary["routers"][nm] for nm in candidates})
    if cross_domain:
        from smallfirst.routing.bench_cross import cross_domain_figures

        result.summary["cross_domain"] = cross_domain_figures(ctx, candidates, target_mix, progress)
    return result


def _assemble(table: OutcomeTable, candidates: Sequence[str], per: dict[str, dict[str, list[float | None]]],
              pooled: dict[str, dict[str, list[float | None]]], oofs: list[dict[str, F64]], folds: int,
              seeds: Sequence[int], kind: str, label: str) -> BenchResult:
    oof0 = oofs[0]
    k = len(table.tiers)
    sc, co = table.scores, table.costs
    tier_q = sc.mean(axis=0)
    tier_c = co.mean(axis=0)
    c_min, c_max = float(tier_c.min()), float(tier_c.max())
    result = BenchResult(summary={})
    routers: dict[str, dict[str, Any]] = {}
    for name in [*candidates, "random", "oracle"]:
        entry: dict[str, Any] = {}
        if k == 2:
            for key in TWO_TIER_KEYS:
                vals = [v for v in per[name][key] if v is not None]
                entry[key] = float(np.mean(vals)) if vals else None
                if key == "apgr":
                    entry["apgr_sd"] = float(np.std(vals)) if len(vals) > 1 else 0.0
        if name in pooled:
            for key, pvals in pooled[name].items():
                entry[key] = _mean(pvals)
        elif k == 2:  # random and oracle on all prompts at once (what the baselines note reports)
            w, s = sc[:, 0], sc[:, 1]
            c, q = M.random_curve(w, s) if name == "random" else M.oracle_curve(w, s)
            summ = M.two_tier_summary(c, q, float(w.mean()), float(s.mean()))
            entry.update({f"{key}_pooled": summ[key] for key in POOLED_KEYS})
        routers[name] = entry
    # cost-quality figures (any number of tiers): per seed on its pooled OOF scores, mean and sd over seeds,
    # beside the null band (random scores through the same threshold sweep)
    band: dict[str, Any] = {}
    if c_max > c_min:
        top = float(tier_q[-1])

        def sweep(g: F64) -> tuple[F64, F64]:
            return cost_quality_points(g, sc, co)

        band = null_band(sweep, len(table), k - 1, top, c_min, c_max, seeds)
        for name in candidates:
            per_seed = [figures(*sweep(o[name]), top, c_min, c_max) for o in oofs]
            for key in per_seed[0]:
                vals = [v for f in per_seed if (v := f[key]) is not None]
                routers[name][key] = float(np.mean(vals)) if vals else None
                if key == "aiq":
                    routers[name]["aiq_sd"] = float(np.std(vals)) if len(vals) > 1 else 0.0
            routers[name]["beats_null_band"] = outside(routers[name]["aiq"], band.get("aiq"))
            x, q = sweep(oof0[name])
            result.points[name] = (x, q)
        ox, oq = oracle_points(sc, co)
        result.points["oracle"] = (ox, oq)
        routers["oracle"].update(figures(ox, oq, top, c_min, c_max))
        result.points["random"] = (tier_c, tier_q)
        routers["random"].update(figures(tier_c, tier_q, top, c_min, c_max))
    if k == 2:
        w, s = sc[:, 0], sc[:, 1]
        for name in candidates:
            result.curves[name] = M.quality_curve(-oof0[name][:, 0], w, s)
        result.curves["random"] = M.random_curve(w, s)
        result.curves["oracle"] = M.oracle_curve(w, s)
    best = max(candidates, key=lambda nm: (routers[nm].get("apgr") if k == 2 else routers[nm].get("aiq")) or -1e9)
    result.summary = {
        "label": label, "n": len(table), "dropped": table.dropped, "tiers": list(table.tiers),
        "tier_quality": dict(zip(table.tiers, tier_q.round(6).tolist(), strict=True)),
        "tier_cost": dict(zip(table.tiers, tier_c.round(6).tolist(), strict=True)),
        "cost_unit": table.cost_unit, "folds": folds, "seeds": list(seeds), "model_kind": kind,
        "strong_better_share": float((sc[:, -1] > sc[:, 0]).mean()),
        "quality_95": float(0.95 * tier_q[-1]),
        "routers": routers, "best": best,
        "null_band": band,  # random scores through the same sweep: (min, max) of each figure
        "points": {name: [[round(float(a), 6), round(float(b), 6)] for a, b in zip(*M.upper_hull(*pts), strict=True)]
                   for name, pts in result.points.items()},  # upper hull of each sweep, first seed
        "always": {t: {"quality": float(tier_q[j]), "cost": float(tier_c[j])} for j, t in enumerate(table.tiers)},
    }
    return result
