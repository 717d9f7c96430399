"""``router eval``: score a trained router artifact on another outcome table, without retraining.

The artifact's probabilities for every prompt of the table are the router's scores. Reported: for two
tiers APGR, CPT(50 %), CPT(80 %), strong calls for 95 % and ROC-AUC (with random and oracle beside, and a
null band of APGR from random scores); for any number of tiers the threshold sweep's AIQ, cost for 95 % /
90 % of the top tier's quality and quality at a budget, beside the null band of random scores through the
same sweep (:mod:`smallfirst.routing.bench_curves`). Those figures pick thresholds on this table itself
(oracle-threshold view). With a thresholds file (``router calibrate``), also what the router actually does
at those thresholds: realised cost, quality and mix, against what calibration expected and against a
random router sending the same mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from smallfirst.core.errors import BadRequestError
from smallfirst.routing import metrics as M
from smallfirst.routing.bench_curves import NULL_DRAWS, figures, null_band, outside
from smallfirst.routing.bench_thresholds import apply
from smallfirst.routing.calibrate import thresholds_array
from smallfirst.routing.learned import ThresholdsFile
from smallfirst.routing.model import F64, LinearRouterModel
from smallfirst.routing.outcomes import OutcomeTable


def router_scores(model: LinearRouterModel, table: OutcomeTable) -> F64:
    """The artifact's probability per prompt and non-top tier (what the live router thresholds)."""
    feat = model.featurizer
    out: F64 = np.array([model.probs(p, feat.prompt_signals(p, t))
                         for p, t in zip(table.prompts, table.tasks, strict=True)], dtype=np.float64)
    return out.reshape(len(table), len(model.tiers) - 1)


def _two_tier(g: F64, sc: F64) -> dict[str, Any]:
    w, s = sc[:, 0], sc[:, 1]
    c, q = M.quality_curve(-g[:, 0], w, s)
    out: dict[str, Any] = dict(M.two_tier_summary(c, q, float(w.mean()), float(s.mean())))
    out["auc"] = M.roc_auc(-g[:, 0], s > w)
    return out


def _apgr_band(sc: F64) -> list[float]:
    rng = np.random.default_rng(40_000)
    vals = [v for _ in range(NULL_DRAWS) if (v := _two_tier(rng.random((len(sc), 1)), sc)["apgr"]) is not None]
    return [float(min(vals)), float(max(vals))] if vals else []


def evaluate(model: LinearRouterModel, table: OutcomeTable, thresholds: ThresholdsFile | None = None,
             goodness: F64 | None = None) -> dict[str, Any]:
    """Summary of the artifact on ``table`` (tiers in the artifact's order)."""
    from smallfirst.routing.sweep import cost_quality_points, oracle_points

    if tuple(table.tiers) != tuple(model.tiers):
        raise BadRequestError(f"the table's tiers {', '.join(table.tiers)} are not the artifact's "
                              f"{', '.join(model.tiers)}", hint="pivot the outcomes with the artifact's tiers")
    g = router_scores(model, table) if goodness is None else goodness
    sc, co = table.scores, table.costs
    k = len(table.tiers)
    tier_q, tier_c = sc.mean(axis=0), co.mean(axis=0)
    c_min, c_max, top = float(tier_c.min()), float(tier_c.max()), float(tier_q[-1])
    routers: dict[str, dict[str, Any]] = {"router": {}, "random": {}, "oracle": {}}
    band: dict[str, Any] = {}
    if k == 2:
        w, s = sc[:, 0], sc[:, 1]
        routers["router"] = _two_tier(g, sc)
        for name, (cc, q) in (("random", M.random_curve(w, s)), ("oracle", M.oracle_curve(w, s))):
            routers[name] = dict(M.two_tier_summary(cc, q, float(w.mean()), float(s.mean())))
        band["apgr"] = _apgr_band(sc)
        routers["router"]["apgr_beats_null_band"] = outside(routers["router"]["apgr"], band["apgr"])
    if c_max > c_min:
        def sweep(x: F64) -> tuple[F64, F64]:
            return cost_quality_points(x, sc, co)

        band.update(null_band(sweep, len(table), k - 1, top, c_min, c_max, [0]))
        routers["router"].update(figures(*sweep(g), top, c_min, c_max))
        routers["router"]["beats_null_band"] = outside(routers["router"]["aiq"], band.get("aiq"))
        routers["random"].update(figures(tier_c, tier_q, top, c_min, c_max))
        routers["oracle"].update(figures(*oracle_points(sc, co), top, c_min, c_max))
    out: dict[str, Any] = {
        "n": len(table), "dropped": table.dropped, "tiers": list(table.tiers), "cost_unit": table.cost_unit,
        "tier_quality": dict(zip(table.tiers, tier_q.round(6).tolist(), strict=True)),
        "tier_cost": dict(zip(table.tiers, tier_c.round(6).tolist(), strict=True)),
        "artifact": {k_: model.meta.get(k_) for k_ in ("kind", "n_train", "source", "trained_at", "models",
                                                        "tier_costs", "cost_unit")},
        "features": model.features, "routers": routers, "null_band": band,
        "view": "sweep figures pick thresholds on this table (oracle-threshold view); 'at_thresholds' uses the "
                "calibrated thresholds file",
    }
    if thresholds is not None:
        out["at_thresholds"] = at_thresholds(g, thresholds, table)
    return out


def at_thresholds(g: F64, tf: ThresholdsFile, table: OutcomeTable) -> dict[str, Any]:
    """Realised figures at the calibrated thresholds, beside calibration's expectation and a random router
    with the same mix (its expected quality and cost are the mix-weighted tier means)."""
    if tuple(tf.tiers) and tuple(tf.tiers) != tuple(table.tiers):
        raise BadRequestError(f"the thresholds file is for tiers {', '.join(tf.tiers)}, the artifact routes "
                              f"{', '.join(table.tiers)}", hint="recalibrate with `smallfirst router calibrate`")
    share = tf.quality_target if tf.method == "quality" else None
    mix = [float(tf.target_mix.get(t, 0.0)) for t in table.tiers] if tf.target_mix else None
    real = apply(g, thresholds_array(table.tiers, tf.thresholds), table.scores, table.costs, share=share, mix=mix)
    m = np.asarray(real["mix"])
    real["mix"] = dict(zip(table.tiers, m.round(6).tolist(), strict=True))
    return {"method": tf.method, "thresholds": dict(tf.thresholds), "target_mix": tf.target_mix,
            "quality_target": tf.quality_target, "source": tf.source, "realised": real,
            "expected": dict(tf.expected),
            "random_same_mix": {"quality": float(m @ table.scores.mean(axis=0)),
                                "cost": float(m @ table.costs.mean(axis=0))}}


def print_eval(summary: Mapping[str, Any], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from smallfirst.routing.report import _band, _fmt

    tiers = summary["tiers"]
    con = Console()
    if not con.is_terminal:
        con = Console(width=150)
    two = len(tiers) == 2
    t = Table(title=f"{title}: n={summary['n']}, tiers {' → '.join(tiers)} (oracle-threshold view: thresholds "
                    "picked on this file)")
    cols = ["router", *(["APGR", "AUC", f"{tiers[-1]} calls for 95%"] if two else []), "AIQ",
            f"cost for 95% of {tiers[-1]}", "quality at ½ budget"]
    for c in cols:
        t.add_column(c, justify="left" if c == "router" else "right")
    for name, e in summary["routers"].items():
        row = [name, *([_fmt(e.get("apgr")), _fmt(e.get("auc")), _fmt(e.get("c_at_95"), True)] if two else []),
               _fmt(e.get("aiq")), _fmt(e.get("cost_95")), _fmt(e.get("q_at_50"))]
        t.add_row(*row)
    band = summary["null_band"]
    t.add_row("[dim]null band (random scores)[/]", *([_band(band, "apgr"), "", ""] if two else []),
              _band(band, "aiq"), _band(band, "cost_95"), _band(band, "q_at_50"))
    con.print(t)
    at = summary.get("at_thresholds")
    if at:
        r, e, rnd = at["realised"], at["expected"], at["random_same_mix"]
        mix = ", ".join(f"{k} {100 * v:.1f}%" for k, v in r["mix"].items())
        exp = ", ".join(f"{k} {100 * v:.1f}%" for k, v in (e.get("mix") or {}).items())
        con.print(f"at the calibrated thresholds ({at['method']}, from {at['source'] or 'calibrate'}): mix {mix}; "
                  f"quality {r['quality']:.4f} ({_fmt(r['quality_share'], True)} of {tiers[-1]}'s), cost "
                  f"{r['cost']:.4f} {summary['cost_unit']}")
        con.print(f"  calibration expected: mix {exp or '–'}; quality {_fmt(e.get('quality'))}, cost "
                  f"{_fmt(e.get('cost'))}; a random router at the same mix: quality {rnd['quality']:.4f}, cost "
                  f"{rnd['cost']:.4f}")
    else:
        con.print("no thresholds file for this artifact (write one with `smallfirst router calibrate`)")
