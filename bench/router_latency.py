"""Router decision latency on this CPU: signal extraction, rules and learned decisions (signals included).

Prompts: a stratified sample of the RouteLLM prompts (MMLU, GSM8K, MT-Bench), one at a time, after a
warm-up. The learned router is trained on routellm:gsm8k unless --artifact is given (the model size
does not change inference cost: the hashed feature space is fixed).

    .venv/bin/python bench/router_latency.py [--artifact router.npz] [--repeat 5] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from smallfirst.core.types import ChatRequest
from smallfirst.routing.learned import LearnedRouter, ThresholdsFile
from smallfirst.routing.model import LinearRouterModel
from smallfirst.routing.outcomes import OutcomeTable
from smallfirst.routing.routellm import load_routellm
from smallfirst.routing.rules import RulesRouter
from smallfirst.routing.train import TrainSpec, train
from smallfirst.signals import extract

TIERS = ("local", "frontier")


def sample_prompts(data_dir: str | None, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for bench, k in (("mmlu", 200), ("gsm8k", 100), ("mt-bench", 72)):
        prompts = sorted({r.prompt for r in load_routellm([bench], data_dir=data_dir)})
        idx = rng.choice(len(prompts), size=min(k, len(prompts)), replace=False)
        out.extend(prompts[int(i)] for i in idx)
    return out


def measure(fn: Callable[[ChatRequest], object], reqs: list[ChatRequest], repeat: int) -> list[float]:
    for r in reqs[:50]:
        fn(r)  # warm-up
    gc.collect()
    times: list[float] = []
    for _ in range(repeat):
        for r in reqs:
            t0 = time.perf_counter_ns()
            fn(r)
            times.append((time.perf_counter_ns() - t0) / 1e6)
    return times


def row(name: str, ms: list[float], n_prompts: int) -> str:
    """p50 / p99 / mean over every timed call, and p99 over prompts of each prompt's fastest pass (the
    cost of the work itself, without the scheduler noise a shared 2-core machine adds)."""
    q = np.percentile(ms, [50, 99])
    best = np.asarray(ms).reshape(-1, n_prompts).min(axis=0)
    return (f"| {name} | {q[0]:.3f} | {q[1]:.3f} | {statistics.fmean(ms):.3f} | "
            f"{np.percentile(best, 99):.3f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifact", help="a trained router artifact (default: train one on routellm:gsm8k)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    prompts = sample_prompts(args.data_dir)
    reqs = [ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": p}], body={})
            for p in prompts]
    lens = [len(p) for p in prompts]
    if args.artifact:
        model = LinearRouterModel.load(args.artifact)
    else:
        table = OutcomeTable.from_rows(load_routellm(["gsm8k"], data_dir=args.data_dir), tiers=TIERS)
        model = train(table, TrainSpec())
        with tempfile.TemporaryDirectory() as d:  # exercise the real artifact round trip
            model = LinearRouterModel.load(model.save(Path(d) / "r.npz"))
    thr = ThresholdsFile(tiers=model.tiers, thresholds={model.tiers[0]: 0.5}, method="mix",
                         target_mix={model.tiers[0]: 0.7, model.tiers[-1]: 0.3})
    learned = LearnedRouter(model, thr)
    rules = RulesRouter(model.tiers)
    tiers = model.tiers

    def learned_decision(r: ChatRequest) -> object:
        return learned.choose(r, extract(r), tiers)

    def rules_decision(r: ChatRequest) -> object:
        return rules.choose(r, extract(r), tiers)

    sigs = {id(r): extract(r) for r in reqs}

    def learned_only(r: ChatRequest) -> object:
        return learned.choose(r, sigs[id(r)], tiers)

    print(f"prompts: {len(prompts)} (MMLU 200, GSM8K 100, MT-Bench 72), chars median {int(np.median(lens))}, "
          f"p99 {int(np.percentile(lens, 99))}, max {max(lens)}; {args.repeat} passes, one prompt at a time")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    n = len(reqs)
    print("| what | p50 (ms) | p99 (ms) | mean (ms) | p99 of per-prompt best (ms) |")
    print("|---|---|---|---|---|")
    print(row("signal extraction (signals.extract)", measure(extract, reqs, args.repeat), n))
    print(row("rules router decision (signals + choose)", measure(rules_decision, reqs, args.repeat), n))
    print(row("learned router decision (signals + choose)", measure(learned_decision, reqs, args.repeat), n))
    print(row("learned router choose only (signals given)", measure(learned_only, reqs, args.repeat), n))
    print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
