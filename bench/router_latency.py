"""Router decision latency on this CPU: signal extraction, rules and learned decisions (signals included).

Prompts: a stratified sample of the RouteLLM prompts (MMLU, GSM8K, MT-Bench), or your own with
``--prompts FILE`` (JSONL rows with a ``prompt`` string or OpenAI ``messages``, or plain text, one prompt
per line), one at a time, after a warm-up. One learned router per ``--features`` set (ngrams, embed,
both) is trained on routellm:gsm8k unless ``--artifact`` is given (the model size does not change
inference cost: the hashed feature space is fixed; embed/both add one all-MiniLM-L6-v2 forward pass).

    .venv/bin/python bench/router_latency.py [--artifact router.npz ...] [--features ngrams,embed,both]
        [--prompts my-prompts.jsonl] [--repeat 5] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from smallfirst.core.text import user_text
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


def read_prompts(path: str) -> list[str]:
    """Prompts from a JSONL file (``prompt`` or ``messages`` per row) or a text file (one per line)."""
    out: list[str] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if path.endswith((".jsonl", ".json")):
            row = json.loads(line)
            if isinstance(row, str):
                out.append(row)
            elif isinstance(row, dict) and isinstance(row.get("prompt"), str):
                out.append(row["prompt"])
            elif isinstance(row, dict) and isinstance(row.get("messages"), list):
                out.append(user_text(row["messages"]))
            else:
                raise SystemExit(f"{path}:{n}: expected a 'prompt' string or a 'messages' list")
        else:
            out.append(line)
    if not out:
        raise SystemExit(f"{path}: no prompts")
    return out


def trained(features: str, data_dir: str | None) -> LinearRouterModel:
    table = OutcomeTable.from_rows(load_routellm(["gsm8k"], data_dir=data_dir), tiers=TIERS)
    model = train(table, TrainSpec(features=features))
    with tempfile.TemporaryDirectory() as d:  # exercise the real artifact round trip
        return LinearRouterModel.load(model.save(Path(d) / "r.npz"))


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
    ap.add_argument("--artifact", action="append", default=[],
                    help="a trained router artifact (repeatable; default: train one per --features on routellm:gsm8k)")
    ap.add_argument("--features", default="ngrams,embed,both",
                    help="feature sets to train and time when no --artifact is given (ngrams, embed, both)")
    ap.add_argument("--prompts", help="your own prompts: JSONL (prompt / messages) or text, one per line")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    prompts = read_prompts(args.prompts) if args.prompts else sample_prompts(args.data_dir)
    reqs = [ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": p}], body={})
            for p in prompts]
    lens = [len(p) for p in prompts]
    if args.artifact:
        models = [(a, LinearRouterModel.load(a)) for a in args.artifact]
    else:
        models = [(f"features {f}", trained(f, args.data_dir)) for f in args.features.split(",") if f]
    tiers = models[0][1].tiers
    rules = RulesRouter(tiers)

    def rules_decision(r: ChatRequest) -> object:
        return rules.choose(r, extract(r), tiers)

    source = args.prompts or "MMLU 200, GSM8K 100, MT-Bench 72"
    print(f"prompts: {len(prompts)} ({source}), chars median {int(np.median(lens))}, "
          f"p99 {int(np.percentile(lens, 99))}, max {max(lens)}; {args.repeat} passes, one prompt at a time")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    n = len(reqs)
    print("| what | p50 (ms) | p99 (ms) | mean (ms) | p99 of per-prompt best (ms) |")
    print("|---|---|---|---|---|")
    print(row("signal extraction (signals.extract)", measure(extract, reqs, args.repeat), n))
    print(row("rules router decision (signals + choose)", measure(rules_decision, reqs, args.repeat), n))
    for name, model in models:
        thr = ThresholdsFile(tiers=model.tiers, thresholds={model.tiers[0]: 0.5}, method="mix",
                             target_mix={model.tiers[0]: 0.7, model.tiers[-1]: 0.3})
        learned = LearnedRouter(model, thr)
        mt = model.tiers

        def learned_decision(r: ChatRequest, lr: LearnedRouter = learned, t: tuple[str, ...] = mt) -> object:
            return lr.choose(r, extract(r), t)

        print(row(f"learned router decision, {name} (signals + choose)",
                  measure(learned_decision, reqs, args.repeat), n))
    print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
