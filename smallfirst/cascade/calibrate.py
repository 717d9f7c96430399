"""Calibrate the cascade's acceptance threshold (``min_confidence``) on outcome data with confidences.

Input: outcome rows (:mod:`smallfirst.routing.outcomes`) where the checked tier's rows carry
``confidence`` and, ideally, the tier it escalates to has a row for the same prompt. A threshold τ
accepts the checked tier's answer when ``confidence ≥ τ`` and escalates the rest. For each τ:

* ``local_share`` — answers accepted on the checked tier;
* ``accepted_quality`` — mean score of the accepted answers;
* ``quality`` — mean score of what the cascade returns (accepted answers, else the upper tier's);
* ``cost`` — mean cost per prompt: the checked tier's answer is always paid, escalations add the
  upper tier's (``cost_usd`` when every row has it, else 0 for the checked tier and 1 per escalation).

The chosen τ is the cheapest that meets the quality target (``quality``, or ``accepted_quality`` when
the file has no upper-tier outcomes); among equal costs, the one that keeps more answers local.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from smallfirst.core.errors import BadRequestError
from smallfirst.routing.metrics import roc_auc
from smallfirst.routing.outcomes import Outcome

F64 = npt.NDArray[np.float64]
ALL = "*"


@dataclass(frozen=True)
class Pairs:
    """Per prompt: the checked tier's score/confidence/cost and (if known) the upper tier's."""

    score: F64
    confidence: F64
    cost: F64
    upper_score: F64 | None
    upper_cost: F64 | None


@dataclass(frozen=True)
class Calibration:
    tier: str
    upper: str | None
    task: str
    target: float
    mode: str  # "cascade" (quality of what is returned) or "accepted" (quality of accepted answers)
    met: bool
    threshold: float
    local_share: float
    quality: float | None
    accepted_quality: float | None
    cost: float
    all_upper_quality: float | None
    all_upper_cost: float | None
    local_quality: float
    auroc: float | None
    n: int
    curve: dict[str, list[float | None]] = field(default_factory=dict, repr=False)

    def to_json(self, with_curve: bool = False) -> dict[str, Any]:
        d = asdict(self)
        if not with_curve:
            d.pop("curve")
        return d


def pair_rows(rows: Sequence[Outcome], tier: str, upper: str | None, task: str = ALL) -> Pairs:
    """Pivot outcome rows into per-prompt pairs (repeated rows of a prompt and tier are averaged)."""
    mine: dict[str, list[Outcome]] = {}
    above: dict[str, list[Outcome]] = {}
    for r in rows:
        if task != ALL and (r.task or "") != task:
            continue
        if r.tier == tier and r.confidence is not None:
            mine.setdefault(r.prompt_id, []).append(r)
        elif upper is not None and r.tier == upper:
            above.setdefault(r.prompt_id, []).append(r)
    if not mine:
        which = f" for task {task!r}" if task != ALL else ""
        raise BadRequestError(f"no {tier!r} outcomes with a confidence{which}",
                              hint="the checked tier's rows need a 'confidence' in [0, 1] (`smallfirst eval` "
                                   "writes it when the tier returns log-probs)")
    ids = sorted(mine)
    have_cost = all(r.cost_usd is not None for rs in (*mine.values(), *above.values()) for r in rs)

    def mean(rs: list[Outcome], attr: str) -> float:
        return float(np.mean([getattr(r, attr) or 0.0 for r in rs]))

    score = np.array([mean(mine[i], "score") for i in ids])
    conf = np.array([mean(mine[i], "confidence") for i in ids])
    cost = np.array([mean(mine[i], "cost_usd") if have_cost else 0.0 for i in ids])
    if upper is None or any(i not in above for i in ids):
        return Pairs(score, conf, cost, None, None)
    up_score = np.array([mean(above[i], "score") for i in ids])
    up_cost = np.array([mean(above[i], "cost_usd") if have_cost else 1.0 for i in ids])
    return Pairs(score, conf, cost, up_score, up_cost)


def sweep(p: Pairs) -> dict[str, F64]:
    """Every distinct threshold (plus one above all) and the figures it gives."""
    taus = np.unique(np.r_[p.confidence, np.nextafter(p.confidence.max(), np.inf)])
    acc = p.confidence[None, :] >= taus[:, None]  # thresholds × prompts
    n_acc = acc.sum(axis=1)
    share = n_acc / len(p.score)
    with np.errstate(invalid="ignore", divide="ignore"):
        accepted_q = np.where(n_acc > 0, (acc * p.score).sum(axis=1) / np.maximum(n_acc, 1), np.nan)
    out = {"threshold": taus, "local_share": share, "accepted_quality": accepted_q}
    if p.upper_score is not None and p.upper_cost is not None:
        out["quality"] = np.where(acc, p.score, p.upper_score).mean(axis=1)
        out["cost"] = (p.cost + np.where(acc, 0.0, p.upper_cost)).mean(axis=1)
    else:
        out["cost"] = p.cost.mean() + (1.0 - share)
    return out


def calibrate(rows: Sequence[Outcome], target: float, *, tier: str, upper: str | None, task: str = ALL,
              relative: bool = False) -> Calibration:
    """The cheapest threshold meeting ``target`` (a mean score; with ``relative``, a share of the upper
    tier's mean score)."""
    if not 0.0 <= target <= 1.0:
        raise BadRequestError(f"quality target {target} is not in [0, 1]", hint="e.g. --quality 0.95")
    p = pair_rows(rows, tier, upper, task)
    s = sweep(p)
    has_upper = p.upper_score is not None
    up_q = float(p.upper_score.mean()) if p.upper_score is not None else None
    if relative:
        if up_q is None:
            raise BadRequestError("a relative target needs the upper tier's outcomes for every prompt",
                                  hint=f"add {upper or 'upper-tier'} rows, or give an absolute --quality")
        target = target * up_q
    q = s["quality"] if has_upper else s["accepted_quality"]
    ok = np.nan_to_num(q, nan=-1.0) >= target - 1e-12
    if ok.any():
        cand = np.flatnonzero(ok)
        best = cand[np.lexsort((-s["local_share"][cand], s["cost"][cand]))[0]]
    else:
        best = int(np.nanargmax(q))
    right = p.score >= 0.5

    def at(name: str) -> float | None:
        return float(s[name][best]) if name in s and not np.isnan(s[name][best]) else None

    curve = {k: [None if np.isnan(x) else float(x) for x in v] for k, v in s.items()}
    return Calibration(
        tier=tier, upper=upper if has_upper else None, task=task, target=float(target),
        mode="cascade" if has_upper else "accepted", met=bool(ok.any()), threshold=float(s["threshold"][best]),
        local_share=float(s["local_share"][best]), quality=at("quality"), accepted_quality=at("accepted_quality"),
        cost=float(s["cost"][best]), all_upper_quality=up_q,
        all_upper_cost=float((p.cost + p.upper_cost).mean()) if p.upper_cost is not None else None,
        local_quality=float(p.score.mean()), auroc=roc_auc(p.confidence, right), n=len(p.score), curve=curve)


def default_tiers(rows: Sequence[Outcome]) -> tuple[str, str | None]:
    """The checked tier (the one whose rows carry confidences; the cheapest if several) and the next one."""
    from smallfirst.routing.outcomes import OutcomeTable

    try:
        order = list(OutcomeTable.from_rows(rows).tiers)
    except BadRequestError:
        order = sorted({r.tier for r in rows})
    with_conf = [t for t in order if any(r.tier == t and r.confidence is not None for r in rows)]
    if not with_conf:
        raise BadRequestError("no outcome row has a confidence",
                              hint="calibration needs the checked tier's confidences (the 'confidence' field)")
    tier = with_conf[0]
    i = order.index(tier)
    return tier, (order[i + 1] if i + 1 < len(order) else None)
