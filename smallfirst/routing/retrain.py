"""``smallfirst router retrain``: a candidate from the request log, gated on held-out *recent* traffic.

1. **Split by time.** Each prompt with outcomes for every tier (:mod:`smallfirst.routing.from_log`) is dated by
   the newest log row it came from; the newest ``holdout`` share of the prompts is held out, the rest trains
   the candidate. A prompt seen in both periods is held out only (prompts are never split).
2. **Evaluate both** — the candidate and the running router (the artifact and thresholds named in the
   config) — through the learned router's own decision code on the held-out prompts: APGR per non-top
   tier (area under the share-of-the-quality-gap-recovered vs calls-to-dearer-tiers curve: 0.5 = random
   order, higher = the prompts that need a dearer tier are sent there first; the gate's number, a mean over
   the tiers whose held-out quality differs), and at their thresholds the quality, cost and mix.
3. **Gate** (the fine-tuning flywheel's shape, :func:`smallfirst.finetune.gate.decide`): promote only when
   the candidate's APGR beats the running one's by more than ``margin`` on at least ``min_heldout`` prompts.
4. **Promote**: the candidate (trained on the older prompts, as evaluated — not refitted) is calibrated the
   way the running thresholds were (the same target mix or quality target, on its out-of-fold scores) and
   written atomically (temp file + ``os.replace``) over the configured artifact and thresholds paths; the
   files replaced are kept as ``<name>.bak``. A running gateway picks them up (:mod:`smallfirst.routing.reload`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from smallfirst.routing.from_log import prompt_id
from smallfirst.routing.learned import LearnedRouter, ThresholdsFile
from smallfirst.routing.outcomes import OutcomeTable

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Options:
    holdout: float = 0.2
    margin: float = 0.01
    min_heldout: int = 20
    min_train: int = 20


def last_seen(records: Sequence[Any]) -> dict[str, float]:
    """prompt_id (as :mod:`.from_log` hashes the prompt text) → the newest log timestamp it appears at."""
    out: dict[str, float] = {}
    for r in records:
        if r.prompt_text:
            pid = prompt_id(r.prompt_text)
            out[pid] = max(out.get(pid, 0.0), float(r.ts))
    return out


def time_split(table: OutcomeTable, seen: Mapping[str, float], holdout: float) -> tuple[I64, I64, float]:
    """(train rows, held-out rows, the oldest held-out prompt's time): the newest ``holdout`` share held out."""
    if not 0.0 < holdout < 1.0:
        raise ValueError("holdout must be a share in (0, 1)")
    when = np.array([seen.get(p, 0.0) for p in table.prompt_ids])
    order = np.argsort(when, kind="stable")
    n_hold = math.ceil(holdout * len(table))
    held = np.sort(order[len(table) - n_hold:])
    train = np.sort(order[:len(table) - n_hold])
    return train.astype(np.int64), held.astype(np.int64), float(when[held].min()) if len(held) else 0.0


def decisions(router: LearnedRouter, table: OutcomeTable) -> tuple[F64, I64]:
    """P(good enough) per non-top tier (n, k-1) and the tier each prompt is routed to, by the router's own code."""
    from smallfirst.core.types import ChatRequest
    from smallfirst.signals import extract

    tiers = list(table.tiers)
    probs = np.zeros((len(table), len(tiers) - 1))
    picks = np.zeros(len(table), dtype=np.int64)
    for i, text in enumerate(table.prompts):
        req = ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": text}], body={})
        sig = extract(req)
        choice = router.choose(req, sig, tiers)
        probs[i] = [float(choice.scores.get(t, 0.0)) for t in tiers[:-1]]
        picks[i] = tiers.index(choice.tier)
    return probs, picks


def evaluate(router: LearnedRouter, table: OutcomeTable) -> dict[str, Any]:
    """APGR per non-top tier (None where the held-out quality does not differ), its mean, and at the router's
    thresholds the quality, cost and mix."""
    from smallfirst.routing import metrics as M

    probs, picks = decisions(router, table)
    per: dict[str, float | None] = {}
    for t, name in enumerate(table.tiers[:-1]):
        weak, strong = table.scores[:, t], table.scores[:, t + 1:].max(axis=1)
        if float(strong.mean()) == float(weak.mean()):
            per[name] = None
            continue
        c, q = M.quality_curve(-probs[:, t], weak, strong)
        per[name] = float(M.apgr(c, q, float(weak.mean()), float(strong.mean())))
    vals = [v for v in per.values() if v is not None]
    rows = np.arange(len(table))
    mix = np.bincount(picks, minlength=len(table.tiers)) / max(len(picks), 1)
    return {"apgr": float(np.mean(vals)) if vals else None, "apgr_by_tier": per,
            "quality": float(table.scores[rows, picks].mean()), "cost": float(table.costs[rows, picks].mean()),
            "mix": dict(zip(table.tiers, mix.round(4).tolist(), strict=True)), "n": len(table)}


def decide(running: Mapping[str, Any], candidate: Mapping[str, Any], o: Options) -> tuple[bool, str]:
    """Promote only when the candidate's held-out APGR beats the running router's by more than the margin."""
    n = int(candidate["n"])
    if n < o.min_heldout:
        return False, f"KEEP THE RUNNING ROUTER — only {n} held-out prompts (need {o.min_heldout})"
    a, b = running["apgr"], candidate["apgr"]
    if a is None or b is None:
        return False, (f"KEEP THE RUNNING ROUTER — the {n} held-out prompts score every tier alike, so they cannot "
                       "tell the routers apart")
    verdict = f"candidate APGR {b:.3f} vs running {a:.3f} on {n} held-out prompts: Δ {b - a:+.3f}"
    if b - a > o.margin:
        return True, f"PROMOTE — {verdict} beats the margin {o.margin:+.3f}"
    return False, f"KEEP THE RUNNING ROUTER — {verdict} does not beat the margin {o.margin:+.3f}"


def candidate_thresholds(model: Any, running: ThresholdsFile | None) -> ThresholdsFile | None:
    """Thresholds for the candidate, calibrated as the running ones were (on its out-of-fold scores)."""
    from smallfirst.routing import calibrate as C

    if running is None or model.oof is None:
        return None
    tiers = tuple(model.tiers)
    if running.method == "quality" and running.quality_target is not None:
        target = float(running.quality_target) * float(model.oof_scores[:, -1].mean())
        thr, _, _ = C.calibrate_quality(model.oof, model.oof_scores, model.oof_costs, target)
    elif running.target_mix:
        thr = C.calibrate_mix(model.oof, [float(running.target_mix.get(t, 0.0)) for t in tiers])
    else:
        return None
    pick = C.choose_tiers(model.oof, thr)
    real = np.bincount(pick, minlength=len(tiers)) / len(pick)
    rows = np.arange(len(pick))
    expected = {"mix": dict(zip(tiers, real.round(4).tolist(), strict=True)),
                "quality": float(model.oof_scores[rows, pick].mean()),
                "cost": float(model.oof_costs[rows, pick].mean()), "n": len(pick)}
    return ThresholdsFile(tiers=tiers, thresholds=C.thresholds_dict(tiers, thr), method=running.method,
                          target_mix=running.target_mix, quality_target=running.quality_target, expected=expected,
                          source="router retrain (out-of-fold, request log)")


def _replace(path: Path, write: Any) -> None:
    """``write(tmp)``, then ``os.replace(tmp, path)``; the file replaced is kept as ``<name>.bak``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        if path.exists():
            bak_tmp = path.with_name(f".{path.name}.bak.{os.getpid()}.tmp")
            shutil.copy2(path, bak_tmp)
            os.replace(bak_tmp, path.with_name(path.name + ".bak"))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def promote(model: Any, thresholds: ThresholdsFile | None, artifact: Path, thresholds_path: Path,
            meta: Mapping[str, Any]) -> list[Path]:
    """Write the candidate (and its thresholds) atomically over the running files; returns what was written."""
    artifact.parent.mkdir(parents=True, exist_ok=True)
    model = dataclasses.replace(model, meta={**model.meta, **meta})
    _replace(artifact, model.save)
    written = [artifact]
    if thresholds is not None:
        _replace(thresholds_path, thresholds.save)
        written.append(thresholds_path)
    return written
