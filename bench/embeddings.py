"""Latency of the built-in embedding model (all-MiniLM-L6-v2 on the CPU): p50/p95 for one input and a batch of 32.

Two columns: the model alone (``MiniLMEmbedder.encode`` in this process) and the whole gateway
(``POST /v1/embeddings`` through the official openai SDK on 127.0.0.1: parse, admission, residency's
sensitivity pass, the model, the log). The first call (model load) is timed separately and left out.
Inputs are ~12-word sentences (about 16 tokens each).

Usage:
    python bench/embeddings.py [--single 200] [--batch 40] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "tired", "engineers",
         "review", "the", "quarterly", "invoice", "numbers", "before", "lunch", "on", "a", "rainy", "tuesday")


def sentence(i: int) -> str:
    return " ".join(WORDS[(i + k) % len(WORDS)] for k in range(12)) + f" #{i}"


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def interleaved(fns: list[Callable[[int], object]], n: int) -> list[list[float]]:
    """Each function ``n`` times, taking turns, so that every column sees the same machine load."""
    out: list[list[float]] = [[] for _ in fns]
    for i in range(n):
        for fn, ms in zip(fns, out, strict=True):
            t0 = time.perf_counter()
            fn(i)
            ms.append((time.perf_counter() - t0) * 1000.0)
    return out


def row(label: str, ms: list[float]) -> str:
    p50, p95, mean = pct(ms, 0.5), pct(ms, 0.95), statistics.mean(ms)
    return f"| {label:<32} | {len(ms):>4} | {p50:>8.1f} | {p95:>8.1f} | {mean:>8.1f} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--single", type=int, default=200, help="single-input requests per column")
    ap.add_argument("--batch", type=int, default=40, help="batch-32 requests per column")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    args = ap.parse_args()

    from openai import OpenAI

    from smallfirst.config.loader import parse
    from smallfirst.embeddings.minilm import MiniLMEmbedder
    from smallfirst.server.app import create_app
    from tests.helpers.gateway import running

    emb = MiniLMEmbedder()
    t0 = time.perf_counter()
    emb.encode(["warm-up"])
    load_ms = (time.perf_counter() - t0) * 1000.0
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    batch = [sentence(i) for i in range(32)]
    with TemporaryDirectory() as tmp:
        cfg = parse({"tiers": [{"name": "local", "endpoints": [{"backend": "fake"}]}],
                     "log": {"path": os.path.join(tmp, "log.db")}})
        with running(create_app(cfg)) as url:
            c = OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
            c.embeddings.create(model="smallfirst/auto", input="warm-up")
            one_model, one_gw = interleaved([
                lambda i: emb.encode([sentence(i)]),
                lambda i: c.embeddings.create(model="smallfirst/auto", input=sentence(i))], args.single)
            many_model, many_gw = interleaved([
                lambda i: emb.encode(batch),
                lambda i: c.embeddings.create(model="smallfirst/auto", input=batch)], args.batch)
    rows = [row("model: 1 input", one_model), row("model: batch of 32", many_model),
            row("gateway (SDK): 1 input", one_gw), row("gateway (SDK): batch of 32", many_gw)]
    print(f"all-MiniLM-L6-v2 on {os.cpu_count()} CPU(s), torch threads {torch.get_num_threads()}; "
          f"first load + first call {load_ms:.0f} ms (imports included)")
    print("| what                             |    n |  p50 ms |  p95 ms | mean ms |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
