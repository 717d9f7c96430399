"""Out-of-domain router figures on the RouteLLM data: train on two benchmarks, test on the third.

For each held-out benchmark (MMLU, GSM8K, MT-Bench) and each learned-router feature set (ngrams, embed,
both), the router is trained with ``smallfirst.routing.train.train`` (every choice inside the training
benchmarks) on the other two and scores every held-out prompt (batched: the same features, idf and
weights the artifact uses one prompt at a time). Reported: APGR and the strong-call share for 95 % of
GPT-4 quality, beside the band (2.5–97.5 %) of ``--null`` random scorers on the same held-out prompts —
a router inside that band has learnt nothing that carries over.

    .venv/bin/python bench/router_ood.py [--features ngrams,embed,both] [--kind auto] [--null 200] [--json F]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from smallfirst.routing import metrics as M
from smallfirst.routing.model import F64, LinearRouterModel
from smallfirst.routing.outcomes import OutcomeTable
from smallfirst.routing.routellm import BENCHMARKS, load_routellm
from smallfirst.routing.train import TrainSpec, featurize, margins, train

TIERS = ("weak", "strong")


def table_of(benches: list[str], data_dir: str | None) -> OutcomeTable:
    return OutcomeTable.from_rows(load_routellm(benches, data_dir=data_dir, tiers=TIERS), tiers=TIERS)


def score_table(model: LinearRouterModel, table: OutcomeTable) -> F64:
    """Margins (n, k-1) of ``model`` on every prompt of ``table``, batched."""
    fm = featurize(table.prompts, table.tasks, model.featurizer, features=model.features)
    rows = np.arange(len(table))
    return margins(fm, rows, model.weights.astype(np.float64), model.bias, model.idf.astype(np.float64))


def summary(route: F64, table: OutcomeTable) -> dict[str, float | None]:
    w, s = table.scores[:, 0], table.scores[:, -1]
    c, q = M.quality_curve(route, w, s)
    return M.two_tier_summary(c, q, float(w.mean()), float(s.mean()))


def null_band(table: OutcomeTable, n: int, seed: int = 0) -> dict[str, tuple[float, float]]:
    rng = np.random.default_rng(seed)
    vals: dict[str, list[float]] = {"apgr": [], "c_at_95": []}
    for _ in range(n):
        summ = summary(rng.random(len(table)), table)
        for key in vals:
            v = summ[key]
            if v is not None:
                vals[key].append(v)
    return {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in vals.items() if v}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", default="ngrams,embed,both")
    ap.add_argument("--kind", default="auto")
    ap.add_argument("--null", type=int, default=200, help="random scorers for the band")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--json", dest="json_out", default=None, help="write the figures to this JSON file")
    args = ap.parse_args(argv)
    feats = [f for f in args.features.split(",") if f]
    out: dict[str, dict[str, object]] = {}
    print("| held out | features | APGR | strong calls for 95 % | random band APGR | random band 95 % | outside |")
    print("|---|---|---|---|---|---|---|")
    for held in BENCHMARKS:
        train_on = [b for b in BENCHMARKS if b != held]
        tr, te = table_of(train_on, args.data_dir), table_of([held], args.data_dir)
        band = null_band(te, args.null)
        out[held] = {"train_on": train_on, "n_train": len(tr), "n_test": len(te), "null_band": band,
                     "routers": {}}
        for f in feats:
            t0 = time.time()
            model = train(tr, TrainSpec(kind=args.kind, features=f))
            summ = summary(-score_table(model, te)[:, 0], te)
            a, c95 = summ["apgr"], summ["c_at_95"]
            lo, hi = band["apgr"]
            beyond = a is not None and a > hi
            out[held]["routers"][f] = {**summ, "outside_band": beyond,  # type: ignore[index]
                                       "seconds": round(time.time() - t0, 1)}
            c_lo, c_hi = band.get("c_at_95", (float("nan"), float("nan")))
            print(f"| {held} (trained on {'+'.join(train_on)}) | {f} | {a:.3f} | "
                  f"{'–' if c95 is None else f'{100 * c95:.1f} %'} | {lo:.3f}–{hi:.3f} | "
                  f"{100 * c_lo:.1f}–{100 * c_hi:.1f} % | {'yes' if beyond else 'no'} |", flush=True)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
