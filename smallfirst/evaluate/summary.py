"""What a run says: quality, cost and latency per target and task type, the share the local tier gets
right, what routing would give, and a tier recommendation per task type (pure; no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from smallfirst.evaluate.runfile import ResultRow, Run
from smallfirst.routing.outcomes import OutcomeTable


@dataclass(frozen=True, slots=True)
class TargetStats:
    key: str
    tier: str
    model: str
    local: bool
    price_known: bool
    tasks: int
    done: int  # final results (answered or failed for good)
    failed: int  # final failures (counted as score 0)
    pending: int  # not done yet (never run, or failed transiently: rerun to retry)
    quality: float | None  # mean score over done tasks
    pass_rate: float | None  # share of done tasks with score >= pass threshold
    cost_usd: float
    cost_per_task: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    prompt_tokens: float | None  # mean per answered task
    completion_tokens: float | None
    confidence: float | None  # mean, where the backend returned log-probabilities
    judge_cost_usd: float


@dataclass(frozen=True, slots=True)
class Routed:
    """Quality, cost and mix of one way of routing the tasks (tier level)."""

    name: str
    quality: float
    cost_per_task: float
    local_share: float
    mix: dict[str, float]
    quality_vs_top: float | None  # quality / the dearest tier's quality
    cost_vs_top: float | None  # cost / the dearest tier's cost


@dataclass(frozen=True, slots=True)
class Recommendation:
    task_type: str
    n: int
    tier: str
    quality: dict[str, float]  # tier → mean quality on this type
    reason: str


@dataclass(frozen=True)
class Summary:
    tasks: int
    tiers: tuple[str, ...]  # tiers with results, cheapest first
    targets: list[TargetStats]
    by_type: dict[str, dict[str, tuple[int, float]]]  # type → target → (done, mean quality)
    pass_threshold: float
    quality_target: float
    local_tier: str | None  # the cheapest tier when it runs on this machine
    local_right: float | None  # share of its done tasks scoring >= pass threshold
    local_as_good: float | None  # share of complete tasks where it scores as well as every dearer tier
    complete: int  # tasks with a final result on every tier (the routing analysis uses these)
    routing: list[Routed] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    cost_for_target: float | None = None  # oracle routing's cost share of the top tier at quality_target
    judge_cost_usd: float = 0.0
    oracle_points: tuple[list[float], list[float]] = ([], [])  # (cost, quality) of the oracle λ-sweep

    def labels(self) -> dict[str, str]:
        """Target key → display label: the tier name when the tier has one endpoint, else the key."""
        per_tier: dict[str, int] = {}
        for t in self.targets:
            per_tier[t.tier] = per_tier.get(t.tier, 0) + 1
        return {t.key: t.tier if per_tier[t.tier] == 1 else t.key for t in self.targets}


def _mean(xs: list[float]) -> float | None:
    return float(np.mean(xs)) if xs else None


def _target_stats(run: Run, key: str, pass_threshold: float) -> TargetStats:
    info = run.target(key)
    rows: list[ResultRow] = [r for (_, k), r in run.rows.items() if k == key]
    final = [r for r in rows if r.final]
    ok = [r for r in final if r.ok]
    scores = [r.effective_score for r in final]
    lat = [r.latency_ms for r in ok]
    cost = sum(r.cost_usd for r in final)
    conf = [r.confidence for r in ok if r.confidence is not None]
    return TargetStats(
        key=key, tier=info.tier, model=info.model, local=info.local,
        price_known=info.price_input_per_mtok is not None, tasks=len(run.tasks), done=len(final),
        failed=len(final) - len(ok), pending=len(run.tasks) - len(final), quality=_mean(scores),
        pass_rate=_mean([1.0 if s >= pass_threshold else 0.0 for s in scores]), cost_usd=cost,
        cost_per_task=cost / len(final) if final else None,
        latency_p50_ms=float(np.percentile(lat, 50)) if lat else None,
        latency_p95_ms=float(np.percentile(lat, 95)) if lat else None,
        prompt_tokens=_mean([float(r.prompt_tokens) for r in ok]),
        completion_tokens=_mean([float(r.completion_tokens) for r in ok]), confidence=_mean(conf),
        judge_cost_usd=sum(r.judge_cost_usd for r in rows))


def _routed(name: str, pick: np.ndarray, table: OutcomeTable, local: list[bool]) -> Routed:
    rows = np.arange(len(table))
    q = float(table.scores[rows, pick].mean())
    c = float(table.costs[rows, pick].mean())
    q_top = float(table.scores[:, -1].mean())
    c_top = float(table.costs[:, -1].mean())
    mix = {t: float(np.mean(pick == j)) for j, t in enumerate(table.tiers)}
    return Routed(name, q, c, float(np.mean([local[j] for j in pick])), mix,
                  q / q_top if q_top > 0 else None, c / c_top if c_top > 0 else None)


def _recommend(table: OutcomeTable, target: float) -> tuple[list[Recommendation], np.ndarray]:
    recs: list[Recommendation] = []
    pick = np.zeros(len(table), dtype=np.int64)
    types = sorted({t or "untyped" for t in table.tasks})
    for ty in types:
        idx = np.array([i for i, t in enumerate(table.tasks) if (t or "untyped") == ty], dtype=np.int64)
        q = table.scores[idx].mean(axis=0)
        best = int(np.argmax(q))
        if q[best] <= 0:
            j, why = 0, "no tier scores above 0 on these tasks; review them"
        else:
            j = int(next(k for k in range(len(q)) if q[k] >= target * q[best] - 1e-12))
            if j != best:
                why = f"{q[j]:.2f} = {100 * q[j] / q[best]:.0f}% of the best ({table.tiers[best]} {q[best]:.2f})"
            elif j == 0:
                why = f"the cheapest tier scores best ({q[j]:.2f})"
            else:
                why = f"best ({q[j]:.2f}); cheaper tiers stay below {100 * target:.0f}% of it"
        if len(idx) < 10:
            why += f"; only {len(idx)} task(s): add more before relying on this"
        pick[idx] = j
        recs.append(Recommendation(ty, len(idx), table.tiers[j], {t: float(q[k]) for k, t in enumerate(table.tiers)},
                                   why))
    return recs, pick


def summarise(run: Run, pass_threshold: float = 0.5, quality_target: float = 0.95) -> Summary:
    """Aggregate a run. The routing analysis uses tasks with a final result on every tier (a tier with
    several endpoints counts their mean)."""
    from smallfirst.core.errors import BadRequestError
    from smallfirst.routing import metrics as M
    from smallfirst.routing.sweep import oracle_points

    targets = [_target_stats(run, t.key, pass_threshold) for t in run.targets]
    task_type = {t.id: t.type for t in run.tasks}
    by_type: dict[str, dict[str, tuple[int, float]]] = {}
    for ty in sorted(set(task_type.values())):
        by_type[ty] = {}
        for tg in run.targets:
            s = [r.effective_score for (tid, k), r in run.rows.items()
                 if k == tg.key and r.final and task_type[tid] == ty]
            if s:
                by_type[ty][tg.key] = (len(s), float(np.mean(s)))
    outcomes = run.outcomes()
    tiers = tuple(t for t in run.tiers if any(o.tier == t for o in outcomes))
    tier_local = {t: all(x.local for x in run.targets if x.tier == t) for t in tiers}
    local_tier = tiers[0] if tiers and tier_local[tiers[0]] else None
    local_right = None
    if local_tier is not None:
        ls = [o.score for o in outcomes if o.tier == local_tier]
        local_right = _mean([1.0 if s >= pass_threshold else 0.0 for s in ls])
    summary = Summary(len(run.tasks), tiers, targets, by_type, pass_threshold, quality_target, local_tier,
                      local_right, None, 0, judge_cost_usd=sum(t.judge_cost_usd for t in targets))
    if len(tiers) < 2:
        return summary
    try:
        table = OutcomeTable.from_rows(outcomes, tiers=tiers)
    except BadRequestError:  # no task has a result on every tier yet
        return summary
    local = [tier_local[t] for t in table.tiers]
    best = table.scores.max(axis=1, keepdims=True)
    oracle_pick = np.argmax(table.scores >= best - 1e-12, axis=1)  # cheapest tier with the best score
    recs, type_pick = _recommend(table, quality_target)
    routing = [_routed(f"always {t}", np.full(len(table), j), table, local) for j, t in enumerate(table.tiers)]
    routing += [_routed("by task type (recommended)", type_pick, table, local),
                _routed("oracle (best possible router)", oracle_pick, table, local)]
    xs, ys = oracle_points(table.scores, table.costs)
    hx, hy = M.upper_hull(xs, ys)
    c_top = float(table.costs[:, -1].mean())
    need = M.first_crossing(hx, hy, quality_target * float(table.scores[:, -1].mean())) if len(hx) else None
    as_good = float(np.mean(table.scores[:, 0] >= table.scores[:, 1:].max(axis=1) - 1e-12))
    return Summary(len(run.tasks), tiers, targets, by_type, pass_threshold, quality_target, local_tier, local_right,
                   as_good if local_tier is not None else None, len(table), routing, recs,
                   need / c_top if need is not None and c_top > 0 else None, summary.judge_cost_usd,
                   (xs.tolist(), ys.tolist()))
