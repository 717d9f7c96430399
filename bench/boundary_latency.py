"""What screening costs, by where a request goes: the cheap pass (every request) vs the boundary screen.

A request that stays on this host pays only the cheap pass (target <= 0.2 ms p50); one that leaves pays
the boundary screen too (identifiers by checksum, phones of every region, addresses, spaCy NER; target
<= 15 ms p50). Prompts: a sample of the public RouteLLM prompts (MMLU, GSM8K, MT-Bench) plus the bundled
PII evaluation sentences, each screened once cold (the screen caches per string, as a conversation's
earlier turns repeat; a warm figure is printed too).

Usage:
    python bench/boundary_latency.py [--routellm ../shared/data/routellm] [--n 1500] [--no-ner]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from smallfirst.config.schema import ResidencyConfig
from smallfirst.core.types import ChatRequest
from smallfirst.sensitivity import Detector
from smallfirst.sensitivity.boundary import BoundaryScreen
from smallfirst.sensitivity.evalset import benign_prompts, load


def _req(text: str) -> ChatRequest:
    messages = [{"role": "user", "content": text}]
    return ChatRequest(model="smallfirst/auto", messages=messages, body={"messages": messages})


def _ms(xs: list[float]) -> tuple[float, float]:
    xs = sorted(xs)
    return statistics.median(xs) * 1000.0, xs[int(0.99 * (len(xs) - 1))] * 1000.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routellm", default=str(Path(__file__).resolve().parents[2] / "shared/data/routellm"))
    ap.add_argument("--n", type=int, default=1500, help="prompts per source")
    ap.add_argument("--ner", action=argparse.BooleanOptionalAction, default=True)
    args = ap.parse_args()
    rng = random.Random(7)
    sources: dict[str, list[str]] = {}
    if Path(args.routellm).is_dir():
        prompts = benign_prompts(args.routellm)
        sources["routellm benign"] = rng.sample(prompts, min(args.n, len(prompts)))
    pii = [s.text for s in load()]
    sources["pii-eval"] = rng.sample(pii, min(args.n, len(pii)))
    cfg = ResidencyConfig(ner=args.ner)
    cheap = Detector.from_config(cfg)
    screen = BoundaryScreen.from_config(cfg, cheap)
    table = Table(title=f"screening cost per request (ms), NER {'on' if args.ner else 'off'}")
    for col in ("prompts", "n", "cheap p50", "cheap p99", "boundary p50", "boundary p99", "warm p50", "ratio p50"):
        table.add_column(col, justify="right" if col != "prompts" else "left")
    for name, texts in sources.items():
        reqs = [_req(t) for t in texts]
        c: list[float] = []
        b: list[float] = []
        w: list[float] = []
        for r in track(reqs, description=name, transient=True):
            t0 = time.perf_counter()
            cheap.detect(r)
            t1 = time.perf_counter()
            screen.detect(r)
            t2 = time.perf_counter()
            screen.detect(r)
            t3 = time.perf_counter()
            c.append(t1 - t0)
            b.append(t2 - t1)
            w.append(t3 - t2)
        (c50, c99), (b50, b99), (w50, _) = _ms(c), _ms(b), _ms(w)
        table.add_row(name, str(len(reqs)), f"{c50:.3f}", f"{c99:.3f}", f"{b50:.2f}", f"{b99:.2f}", f"{w50:.3f}",
                      f"{b50 / c50:.0f}×")
    Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
