"""Recall of the sensitivity detector on the independent PII set, and its flagged share of benign prompts.

Scores ``Detector.from_config(ResidencyConfig(...))`` at request level on the bundled
``smallfirst-pii-eval-v1`` set (``smallfirst/sensitivity/data/pii-eval.jsonl``, made by
``scripts/make_pii_eval.py`` without reading the detector): recall per type / group / locale, the
false-positive rate on the hard negatives, and the flagged share of ordinary prompts from the public
RouteLLM data (MMLU, GSM8K, MT-Bench), read in place. Usage::

    python bench/pii_recall.py [--ner/--no-ner] [--mode MODE] [--limit N] [--routellm DIR] [--json PATH] [--write]

``--mode`` is passed to ``ResidencyConfig`` as ``mode`` (only if the config has such a field);
``--limit`` caps the benign prompts per benchmark; ``--write`` saves the figures to
``smallfirst/sensitivity/data/pii-eval-results.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from smallfirst.config.schema import ResidencyConfig
from smallfirst.sensitivity import Detector
from smallfirst.sensitivity.boundary import BoundaryScreen
from smallfirst.sensitivity.evalset import (
    SET_NAME,
    benign_prompts_by_benchmark,
    flagged_share,
    load,
    load_meta,
    score,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "smallfirst" / "sensitivity" / "data" / "pii-eval-results.json"
DEFAULT_ROUTELLM = ROOT.parent / "shared" / "data" / "routellm"

# eval type -> detector entity names that count as the right type (public entity names only)
MATCH: dict[str, tuple[str, ...]] = {
    "person": ("person",),
    "street_address": ("address", "location"),
    "city": ("location", "address"),
    "postcode": ("address", "location", "postcode"),
    "email": ("email",),
    "phone": ("phone",),
    "credit_card": ("credit_card",),
    "iban": ("iban",),
    "ssn": ("ssn",),
    "national_id": ("national_id", "ssn", "nhs_number", "tax_id"),
    "ip_address": ("ip_address",),
    "date": ("date_of_birth", "date"),
    "drivers_license": ("drivers_license", "driver_license"),
    "passport": ("passport_number", "passport"),
}


def build_detector(ner: bool, mode: str | None, stage: str = "boundary") -> tuple[Detector | BoundaryScreen,
                                                                                  dict[str, Any]]:
    """The cheap pass (``Detector``, every request) or the boundary screen (before a request leaves the host)."""
    kwargs: dict[str, Any] = {"ner": ner}
    if mode is not None:
        if "mode" not in ResidencyConfig.model_fields:
            raise SystemExit("--mode: this ResidencyConfig has no 'mode' field")
        kwargs["mode"] = mode
    cfg = ResidencyConfig(**kwargs)
    dumped = {**cfg.model_dump(mode="json"), "stage": stage}
    if stage == "cheap":
        return Detector.from_config(cfg), dumped
    return BoundaryScreen.from_config(cfg), dumped


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def _advance(prog: Progress, task: TaskID) -> Callable[[], None]:
    return lambda: prog.advance(task)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ner", action=argparse.BooleanOptionalAction, default=True, help="spaCy NER at the boundary")
    ap.add_argument("--stage", choices=("boundary", "cheap"), default="boundary",
                    help="boundary: the screen before a request leaves the host (default); cheap: the router's pass")
    ap.add_argument("--mode", default=None, help="ResidencyConfig.mode, where the config has one")
    ap.add_argument("--limit", type=int, default=None, help="at most N benign prompts per benchmark")
    ap.add_argument("--routellm", type=Path, default=DEFAULT_ROUTELLM, help="RouteLLM data folder (outcomes.jsonl)")
    ap.add_argument("--data", type=Path, default=None, help="eval set (JSON lines); default the bundled one")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this path")
    ap.add_argument("--write", action="store_true", help=f"save the figures to {RESULTS.relative_to(ROOT)}")
    args = ap.parse_args(argv)
    console = Console()

    try:
        detector, cfg = build_detector(args.ner, args.mode, args.stage)
    except (ImportError, OSError) as e:  # --ner without the [pii] extra / its model
        console.print(f"[red]cannot build the detector: {e}[/]")
        return 2

    def detect(text: str) -> Iterable[str]:
        return [e for e, _ in detector.detect_text(text).entities]

    samples = load(args.data)
    t0 = time.perf_counter()
    with _progress(console) as prog:
        task = prog.add_task(SET_NAME, total=len(samples))
        report = score(detect, samples, MATCH, progress=lambda: prog.advance(task))
    eval_s = time.perf_counter() - t0
    report.print(console)

    benign: dict[str, Any] = {}
    if args.routellm.joinpath("outcomes.jsonl").exists():
        groups = benign_prompts_by_benchmark(args.routellm)
        if args.limit is not None:
            groups = {k: v[:args.limit] for k, v in groups.items()}
        with _progress(console) as prog:
            for bench, prompts in groups.items():
                task = prog.add_task(f"benign {bench}", total=len(prompts))
                rate, seen = flagged_share(detect, prompts, progress=_advance(prog, task))
                benign[bench] = {**rate.to_json(), "reported": seen}
        bt = Table(title="benign prompts flagged (RouteLLM data; lower is better)")
        for col in ("benchmark", "flagged", "prompts", "entities reported"):
            bt.add_column(col, justify="left" if col in ("benchmark", "entities reported") else "right")
        for bench, b in benign.items():
            top = ", ".join(f"{k} {v}" for k, v in sorted(b["reported"].items(), key=lambda x: -x[1])[:6])
            share = "-" if b["rate"] is None else f"{b['hits'] / b['total']:.2%} ({b['hits']})"
            bt.add_row(bench, share, str(b["total"]), top)
        console.print(bt)
    else:
        console.print(f"[yellow]no RouteLLM data at {args.routellm}; benign share skipped[/]")

    try:
        meta = load_meta() if args.data is None else {}
    except FileNotFoundError:
        meta = {}
    out: dict[str, Any] = {
        "set": SET_NAME,
        "set_faker_version": meta.get("faker_version"),
        "date": datetime.now(UTC).date().isoformat(),
        "detector_config": {k: cfg[k] for k in cfg if k != "keys"},
        "eval_seconds": round(eval_s, 3),
        "recall_any": report.positive.to_json(),
        "false_positive_rate": report.negative.to_json(),
        "per_type_recall": {k: v.to_json() for k, v in report.per_type.items()},
        "per_type_matched_recall": {k: v.to_json() for k, v in (report.per_type_matched or {}).items()},
        "group_recall": {k: v.to_json() for k, v in report.per_group.items()},
        "locale_recall": {k: v.to_json() for k, v in report.per_locale.items()},
        "reported_on_negatives": report.reported_on_negatives,
        "benign_flagged_share": benign,
        "benign_limit_per_benchmark": args.limit,
    }
    text = json.dumps(out, indent=2, ensure_ascii=False) + "\n"
    if args.json is not None:
        args.json.write_text(text, encoding="utf-8")
    if args.write:
        RESULTS.write_text(text, encoding="utf-8")
        console.print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
