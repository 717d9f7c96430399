"""Cross-domain figures for ``router bench``: train on the other domains, test on the held-out one.

A user's traffic is never the training set, so when the outcome table holds more than one domain — the
``dataset`` of every row (RouteLLM: ``routellm/mmlu``, ``routellm/gsm8k``, ``routellm/mt-bench``), else the
``task`` when there are at most ``MAX_DOMAINS`` of them — every candidate router is fitted on all the other
domains and scored on the held-out one: for two tiers APGR, ROC-AUC and the strong-tier calls for 95 % of
its quality (oracle-threshold view); for any number of tiers the sweep's AIQ and cost for 95 %; and, the
number a user gets, the realised cost, quality and mix at thresholds calibrated on the training domains'
out-of-fold scores (:mod:`smallfirst.routing.bench_thresholds`). Each figure sits beside a null band of
random scores. Bounded: at most ``MAX_DOMAINS`` held-out domains, each with at least ``MIN_PROMPTS``
prompts on either side; one split per domain (seeds do not apply).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from smallfirst.routing import metrics as M
from smallfirst.routing.bench_curves import NULL_DRAWS, figures, null_band, outside
from smallfirst.routing.bench_thresholds import HeldOut, fold_scores, realised
from smallfirst.routing.candidates import BenchContext
from smallfirst.routing.model import F64
from smallfirst.routing.outcomes import OutcomeTable
from smallfirst.routing.sweep import cost_quality_points

MAX_DOMAINS = 8
MIN_PROMPTS = 20


def domain_labels(table: OutcomeTable) -> tuple[str, list[str]] | None:
    """(``"dataset"`` or ``"task"``, the label of every prompt) when the table spans several domains."""
    ds = table.datasets
    if ds and all(ds) and len(set(ds)) >= 2:
        return "dataset", [str(d) for d in ds]
    ts = table.tasks
    if all(ts) and 2 <= len(set(ts)) <= MAX_DOMAINS:
        return "task", [str(t) for t in ts]
    return None


def held_out_domains(labels: Sequence[str]) -> list[str]:
    """Domains large enough to test on (and to leave enough to train on), largest first, bounded."""
    n = len(labels)
    counts = Counter(labels)
    ok = [d for d, c in counts.most_common() if c >= MIN_PROMPTS and n - c >= MIN_PROMPTS]
    return ok[:MAX_DOMAINS]


def _two_tier(g: F64, sc: F64) -> dict[str, float | None]:
    w, s = sc[:, 0], sc[:, 1]
    c, q = M.quality_curve(-g[:, 0], w, s)
    summ = M.two_tier_summary(c, q, float(w.mean()), float(s.mean()))
    return {"apgr": summ["apgr"], "c_at_95": summ["c_at_95"], "auc": M.roc_auc(-g[:, 0], s > w)}


def _apgr_band(sc: F64, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(30_000 + seed)
    vals = [v for _ in range(NULL_DRAWS) if (v := _two_tier(rng.random((len(sc), 1)), sc)["apgr"]) is not None]
    return [float(min(vals)), float(max(vals))] if vals else []


def _one_domain(ctx: BenchContext, candidates: Sequence[str], tr: Any, te: Any,
                target_mix: Sequence[float] | None, progress: Any) -> dict[str, Any]:
    table = ctx.table
    sc, co = table.scores[te], table.costs[te]
    k = len(table.tiers)
    tier_q, tier_c = sc.mean(axis=0), co.mean(axis=0)
    c_min, c_max, top = float(tier_c.min()), float(tier_c.max()), float(tier_q[-1])
    ho = HeldOut(table.tiers, target_mix)
    band: dict[str, Any] = {}
    if c_max > c_min:
        band = null_band(lambda g: cost_quality_points(g, sc, co), len(te), k - 1, top, c_min, c_max, [0])
    if k == 2:
        band["apgr"] = _apgr_band(sc)
    routers: dict[str, Any] = {}
    for name in candidates:
        g, g_tr = fold_scores(name, ctx, tr, te)
        entry: dict[str, Any] = _two_tier(g, sc) if k == 2 else {}
        if c_max > c_min:
            entry.update(figures(*cost_quality_points(g, sc, co), top, c_min, c_max))
            entry["beats_null_band"] = outside(entry["aiq"], band.get("aiq"))
        if k == 2:
            entry["apgr_beats_null_band"] = outside(entry["apgr"], band.get("apgr"))
        assert g_tr is not None
        ho.add(name, 0, realised(g_tr, g, tr, te, table.scores, table.costs, target_mix))
        entry["held_out"] = ho.summary(name)
        routers[name] = entry
        if progress is not None:
            progress(1)
    ho.add_null(0, tr, te, table.scores, table.costs)
    return {"n_train": len(tr), "n_test": len(te),
            "tier_quality": dict(zip(table.tiers, tier_q.round(6).tolist(), strict=True)),
            "tier_cost": dict(zip(table.tiers, tier_c.round(6).tolist(), strict=True)),
            "routers": routers, "null_band": band, "held_out_null_band": ho.null_band()}


def cross_domain_figures(ctx: BenchContext, candidates: Sequence[str], target_mix: Sequence[float] | None = None,
                         progress: Any = None) -> dict[str, Any]:
    """Leave-one-domain-out figures for every candidate (``{"skipped": why}`` when there is one domain)."""
    found = domain_labels(ctx.table)
    if found is None:
        return {"skipped": "one domain only (rows need a dataset, or at most "
                           f"{MAX_DOMAINS} distinct tasks, with two or more values)"}
    by, labels = found
    domains = held_out_domains(labels)
    if not domains:
        return {"by": by, "skipped": f"no domain has {MIN_PROMPTS}+ prompts with {MIN_PROMPTS}+ left to train on"}
    lab = np.array(labels)
    out: dict[str, Any] = {}
    for d in domains:
        te, tr = np.flatnonzero(lab == d), np.flatnonzero(lab != d)
        out[d] = _one_domain(ctx, candidates, tr, te, target_mix, progress)
    return {"by": by, "method": "train on every other domain, test on the held-out one; thresholds of held_out "
                                "calibrated on the training domains only", "domains": out}
