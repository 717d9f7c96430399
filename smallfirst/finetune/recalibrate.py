"""Recalibration after a promotion: the local share before and after, on the gate's held-out outcomes.

Outcomes: the gate scored the base and the tuned local model on every held-out prompt (with their
log-prob confidences). For prompts exported from the request log the higher tier's answer *is* the
accepted reference, so the upper tier's outcome is that answer — score 1 by construction — at the
cost the log recorded for it. With these rows:

* **answered locally** — share of held-out prompts the local model gets right (score ≥ 0.5);
* **cascade** — :func:`smallfirst.cascade.calibrate.calibrate`: the cheapest ``min_confidence``
  threshold that keeps the quality target (a share of the upper tier's quality; or, without upper
  outcomes, the accepted answers' quality), and the share it keeps local — for the base model and
  for the tuned one;
* **router** (``router_artifact``, a two-tier learned router) — the thresholds
  :func:`smallfirst.routing.calibrate.calibrate_quality` picks on the same outcomes, the local share
  they give, and a new thresholds file (``router.thresholds.json``) to put in place of the old one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smallfirst.core.errors import BadRequestError, SmallfirstError
from smallfirst.finetune.dataset import HELDOUT
from smallfirst.finetune.gate import BASE, GATE_JSON, TUNED, read_train_report
from smallfirst.routing.outcomes import Outcome

LOCAL = "local"


def _upper_rows(data_dir: Path) -> tuple[str | None, dict[str, Outcome]]:
    """Reference outcomes of the tier whose answers were exported (log source only)."""
    p = data_dir / HELDOUT
    rows: dict[str, Outcome] = {}
    tiers: set[str] = set()
    if p.is_file():
        for line in p.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            ex = json.loads(line)
            if ex.get("source") != "log" or not ex.get("tier"):
                continue
            tiers.add(ex["tier"])
            prompt = "\n".join(m["content"] for m in ex["messages"] if m["role"] == "user")
            rows[ex["id"]] = Outcome(prompt_id=ex["id"], prompt=prompt, tier=ex["tier"], score=1.0,
                                     cost_usd=float(ex.get("cost_usd") or 0.0), task=ex.get("type"))
    if len(tiers) != 1:
        return None, {}  # none, or answers from several tiers: no single upper tier to cascade to
    return tiers.pop(), rows


def _as_local(rows: list[Outcome], target: str) -> list[Outcome]:
    from dataclasses import replace

    return [replace(r, tier=LOCAL) for r in rows if r.tier == target]


def recalibrate(run_dir: str | Path, *, quality: float = 0.95, router_artifact: str | Path | None = None,
                out_dir: str | Path | None = None) -> dict[str, Any]:
    from smallfirst.cascade.calibrate import calibrate
    from smallfirst.evaluate.runfile import RunDir

    run = Path(run_dir)
    report = read_train_report(run)
    gate_path = run / GATE_JSON
    if not gate_path.is_file():
        raise BadRequestError(f"{run} has no gate results", hint="run `smallfirst finetune gate` first")
    gate = json.loads(gate_path.read_text(encoding="utf-8"))
    outcomes = RunDir(gate["eval_dir"]).load().outcomes()
    upper, up_rows = _upper_rows(Path(report["config"]["data"]))
    result: dict[str, Any] = {"quality_target": quality, "upper_tier": upper, "n": 0, "cascade": {},
                              "answered_locally": {}, "router": None}
    for label, target in (("before", BASE), ("after", TUNED)):
        local = _as_local(outcomes, target)
        result["n"] = len(local)
        result["answered_locally"][label] = (sum(r.score >= 0.5 for r in local) / len(local)) if local else None
        rows = local + [up_rows[r.prompt_id] for r in local if r.prompt_id in up_rows]
        has_upper = upper is not None and all(r.prompt_id in up_rows for r in local)
        try:
            cal = calibrate(rows, quality, tier=LOCAL, upper=upper if has_upper else None, relative=has_upper)
        except SmallfirstError as err:
            result["cascade"][label] = {"skipped": err.message}
            continue
        result["cascade"][label] = cal.to_json()
    if router_artifact is not None:
        result["router"] = _router(Path(router_artifact), outcomes, up_rows, upper, quality,
                                   Path(out_dir) if out_dir else run)
    return result


def _router(artifact: Path, outcomes: list[Outcome], up_rows: dict[str, Outcome], upper: str | None,
            quality: float, out_dir: Path) -> dict[str, Any]:
    import numpy as np

    from smallfirst.routing import calibrate as C
    from smallfirst.routing.learned import ThresholdsFile
    from smallfirst.routing.model import LinearRouterModel

    model = LinearRouterModel.load(artifact)
    if len(model.tiers) != 2 or upper is None or model.tiers[-1] != upper:
        return {"skipped": f"the router's tiers {list(model.tiers)} are not (local tier, {upper or 'upper tier'}) "
                           "— the held-out outcomes cover only the local model and the tier that answered"}
    base = {r.prompt_id: r for r in outcomes if r.tier == BASE}
    tuned = {r.prompt_id: r for r in outcomes if r.tier == TUNED}
    ids = [i for i in base if i in tuned and i in up_rows]
    if not ids:
        return {"skipped": "no held-out prompt has base, tuned and upper-tier outcomes"}
    feat = model.featurizer
    good = np.array([model.probs(base[i].prompt, feat.prompt_signals(base[i].prompt, base[i].task)) for i in ids])
    costs = np.array([[0.0, up_rows[i].cost_usd or 0.0] for i in ids])
    out: dict[str, Any] = {"n": len(ids), "tiers": list(model.tiers)}
    for label, local in (("before", base), ("after", tuned)):
        scores = np.array([[local[i].score, 1.0] for i in ids])
        thr, q, cost = C.calibrate_quality(good, scores, costs, quality * float(scores[:, -1].mean()))
        share = float((C.choose_tiers(good, thr) == 0).mean())
        out[label] = {"thresholds": C.thresholds_dict(model.tiers, thr), "local_share": share, "quality": q,
                      "cost": cost}
    after = out["after"]
    mix = {model.tiers[0]: after["local_share"], model.tiers[1]: 1 - after["local_share"]}
    tf = ThresholdsFile(tiers=model.tiers, thresholds=after["thresholds"], method="quality", quality_target=quality,
                        expected={"mix": mix, "quality": after["quality"], "cost": after["cost"], "n": len(ids)},
                        source="smallfirst finetune recalibrate (held-out outcomes of the tuned model)")
    out["thresholds_file"] = str(tf.save(out_dir / "router.thresholds.json"))
    return out


def summary_lines(r: dict[str, Any]) -> list[str]:
    """Human-readable before/after lines."""
    def pct(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.1f}%"

    a = r["answered_locally"]
    lines = [f"answered correctly by the local model on {r['n']} held-out prompts: {pct(a.get('before'))} → "
             f"{pct(a.get('after'))}"]
    def share(c: dict[str, Any]) -> str:
        if "local_share" not in c:
            return f"– ({c.get('skipped', 'not calibrated')})"
        if not c["met"]:
            return "– (the quality target is out of reach)"
        return f"{pct(c['local_share'])} at min_confidence {c['threshold']:.3f}"

    cb, ca = r["cascade"].get("before", {}), r["cascade"].get("after", {})
    lines.append(f"cascade (quality target {r['quality_target']:.2f}): local share {share(cb)} → {share(ca)}")
    rt = r.get("router")
    if rt:
        if "skipped" in rt:
            lines.append(f"router: {rt['skipped']}")
        else:
            lines.append(f"router: local share {pct(rt['before']['local_share'])} → {pct(rt['after']['local_share'])}; "
                         f"new thresholds: {rt['thresholds_file']}")
    return lines
