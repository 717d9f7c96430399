"""Precision and recall per entity type on the templated labelled corpus (bench/sensitivity_corpus.py).

A gold span counts as found when a finding of the same entity type overlaps it; every finding that
overlaps no gold span of its type is a false positive (near misses, invalid checksums and clean
prose carry no labels). Target: recall >= 0.99 for the validated structured identifiers.

Usage:
    python bench/sensitivity_eval.py [--per-entity 200] [--seed 7] [--ner] [--json out.json] [--png out.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sensitivity_corpus import Sample, build

from smallfirst.config.schema import ResidencyConfig
from smallfirst.sensitivity import Detector

VALIDATED = ("credit_card", "iban", "ssn", "nhs_number", "email", "ip_address", "phone")


def score(detector: Detector, samples: list[Sample]) -> dict[str, dict[str, float]]:
    tp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    for s in samples:
        found = detector.scan(s.text)
        for g0, g1, ge in s.spans:
            if any(f.entity == ge and f.start < g1 and g0 < f.end for f in found):
                tp[ge] += 1
            else:
                fn[ge] += 1
        for f in found:
            if not any(f.entity == ge and f.start < g1 and g0 < f.end for g0, g1, ge in s.spans):
                fp[f.entity] += 1
    out: dict[str, dict[str, float]] = {}
    for e in sorted(set(tp) | set(fn) | set(fp)):
        p = tp[e] / (tp[e] + fp[e]) if tp[e] + fp[e] else 1.0
        r = tp[e] / (tp[e] + fn[e]) if tp[e] + fn[e] else 1.0
        out[e] = {"gold": tp[e] + fn[e], "tp": tp[e], "fn": fn[e], "fp": fp[e], "precision": p, "recall": r}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-entity", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--ner", action="store_true", help="add the spaCy NER (needs [pii]) and person samples")
    ap.add_argument("--json", default=None)
    ap.add_argument("--png", default=None)
    args = ap.parse_args()

    samples = build(args.seed, args.per_entity, with_people=args.ner)
    det = Detector.from_config(ResidencyConfig(ner=args.ner))
    res = score(det, samples)
    unlabelled = sum(1 for s in samples if not s.spans)
    print(f"{len(samples)} samples ({unlabelled} without labels: near misses, invalid checksums); seed {args.seed}")
    print(f"{'entity':<28} {'gold':>5} {'tp':>5} {'fn':>4} {'fp':>4} {'precision':>9} {'recall':>7}")
    for e, r in res.items():
        mark = "  <- validated" if e in VALIDATED else ""
        print(f"{e:<28} {r['gold']:>5.0f} {r['tp']:>5.0f} {r['fn']:>4.0f} {r['fp']:>4.0f} "
              f"{r['precision']:>9.3f} {r['recall']:>7.3f}{mark}")
    if args.json:
        Path(args.json).write_text(json.dumps({"seed": args.seed, "per_entity": args.per_entity, "results": res},
                                              indent=2))
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = list(res)
        fig, ax = plt.subplots(figsize=(10, 0.35 * len(names) + 1.5))
        ys = range(len(names))
        ax.barh([y + 0.2 for y in ys], [res[n]["recall"] for n in names], height=0.4, label="recall")
        ax.barh([y - 0.2 for y in ys], [res[n]["precision"] for n in names], height=0.4, label="precision")
        ax.set_yticks(list(ys), names)
        ax.set_xlim(0.0, 1.02)
        ax.axvline(0.99, color="red", linestyle="--", linewidth=1, label="0.99 recall target")
        ax.legend(loc="lower left")
        ax.set_title("smallfirst sensitivity detectors on the templated corpus")
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
