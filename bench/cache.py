"""Response cache figures: hit rate and false-hit rate on a paraphrase set, cost saved, latency added on a miss.

The set is built from the public RouteLLM outcome data (../shared/data/routellm/outcomes.jsonl; nothing is
copied into this repository): ``--n`` GSM8K questions and ``--n`` MMLU questions (a seeded sample), each kept
in the cache once with its answer. Then, per question:

- pairs that **should** match: the question rewritten by one deterministic rule (case, whitespace,
  punctuation, a polite prefix, contractions, "Question:" framing, or a word-order-preserving synonym);
- pairs that must **not** match: GSM8K with one number changed (same template, different numbers);
  MMLU with two options swapped, or one option replaced by another question's (the right letter changes);
  and either with one answer-changing word swapped for its opposite (more/fewer, per day/per week,
  largest/smallest …), which leaves the numbers alone; or two names swapped (the same words in another
  order: only the similarity can tell).

Every query is looked up through the real :class:`smallfirst.cache.ResponseCache` (SQLite file, the
local all-MiniLM-L6-v2 model, the contract key with its pivots) at each similarity threshold; a lookup
that returns another question's answer is a false hit. Cost saved prices each hit at what the strong
model's answer would have cost (prompt and answer characters / 4 tokens, at the $20 per million blended
GPT-4 Turbo price RouteLLM states). Latency: p50/p95 of a lookup that misses, exact only and semantic
(with same-contract entries present, so the embedding is computed; and with none, the pre-check).

Usage:
    python bench/cache.py [--n 300] [--seed 17] [--repeats 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smallfirst.cache import CacheStore, ResponseCache  # noqa: E402
from smallfirst.cache.cache import Pending  # noqa: E402
from smallfirst.cache.key import Guard, contract_key, exact_key, query_text  # noqa: E402
from smallfirst.cache.semantic import minilm_encoder  # noqa: E402
from smallfirst.config.cache import CacheConfig  # noqa: E402
from smallfirst.core.types import ChatRequest, ChatResponse, Signals, Usage  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "routellm" / "outcomes.jsonl"
STRONG = "gpt-4-1106-preview"
USD_PER_MTOK = 20.0  # RouteLLM benchmarks/README.md: GPT-4 Turbo, blended 1:1
THRESHOLDS = (0.80, 0.85, 0.88, 0.90, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99)
SYNONYMS = (("How many", "What number of"), ("How much", "What amount"), ("Which of the following", "Which one of "
            "these"), ("What is", "What's"), ("does she", "would she"), ("Find", "Determine"), ("total", "overall"))


def load(n: int, seed: int) -> list[dict[str, Any]]:
    rows: dict[str, list[dict[str, Any]]] = {"gsm8k": [], "mmlu": []}
    seen: set[str] = set()
    with DATA.open() as f:
        for line in f:
            r = json.loads(line)
            if r["benchmark"] in rows and r["model"] == STRONG and r["prompt"] not in seen:
                seen.add(r["prompt"])
                rows[r["benchmark"]].append(r)
    rng = random.Random(seed)
    return [r for b in ("gsm8k", "mmlu") for r in rng.sample(rows[b], n)]


def paraphrase(text: str, i: int) -> str:
    """One deterministic rewrite that keeps the question (rule ``i`` mod 7, falling through to case)."""
    rule = i % 7
    if rule == 1:
        return "  " + re.sub(r" ", "  ", text, count=5) + "\n"
    if rule == 2:
        return text[:-1] if text.endswith(("?", ".", ":")) else text + "?"
    if rule == 3:
        return "Please answer this: " + text
    if rule == 4 and re.search(r"\b(is not|do not|does not|cannot)\b", text):
        return text.replace("is not", "isn't").replace("do not", "don't").replace("does not", "doesn't")
    if rule == 5:
        return "Question: " + " ".join(text.split())
    if rule == 6:
        for a, b in SYNONYMS:
            if a in text:
                return text.replace(a, b, 1)
    return text.lower()


ANTONYMS = (("more", "fewer"), ("less", "more"), ("per day", "per week"), ("per hour", "per minute"), ("buys", "sells"),
            ("increase", "decrease"), ("older", "younger"), ("taller", "shorter"), ("before", "after"),
            ("largest", "smallest"), ("most", "least"), ("maximum", "minimum"), ("faster", "slower"),
            ("gains", "loses"), ("profit", "loss"), ("true", "untrue"), ("best", "worst"), ("higher", "lower"),
            ("left", "right"), ("earn", "spend"), ("inside", "outside"), ("always", "sometimes"))


def word_changed(text: str) -> str | None:
    """One answer-changing word swapped for its opposite (no pivot changes: the embedding must tell)."""
    for a, b in ANTONYMS:
        m = re.search(rf"\b{a}\b", text)
        if m is not None:
            return text[:m.start()] + b + text[m.end():]
    return None


def roles_swapped(text: str) -> str | None:
    """The first two different names (capitalised words inside a sentence) swapped: the same words, another
    question ("Ann is older than Bob" / "Bob is older than Ann")."""
    names = [m for m in re.finditer(r"(?<=[a-z,] )[A-Z][a-z]+\b", text)]
    second = next((m for m in names[1:] if m.group() != names[0].group()), None) if names else None
    if second is None:
        return None
    a, b = names[0], second
    return text[:a.start()] + b.group() + text[a.end():b.start()] + a.group() + text[b.end():]


def number_changed(text: str) -> str | None:
    m = re.search(r"\d+", text)
    return None if m is None else text[:m.start()] + str(int(m.group()) + 1) + text[m.end():]


def options(text: str) -> list[tuple[int, int]]:
    return [(m.start(1), m.end(1)) for m in re.finditer(r"^[A-D]\. (.*)$", text, flags=re.M)]


def option_changed(text: str, other: str, i: int) -> str | None:
    mine, theirs = options(text), options(other)
    if len(mine) < 4:
        return None
    if i % 2 == 0 or len(theirs) < 4:  # swap A and B: the same words, another right letter
        (a0, a1), (b0, b1) = mine[0], mine[1]
        a, b = text[a0:a1], text[b0:b1]
        return None if a == b else text[:a0] + b + text[a1:b0] + a + text[b1:]
    (c0, c1), (t0, t1) = mine[2], theirs[2]
    return None if text[c0:c1] == other[t0:t1] else text[:c0] + other[t0:t1] + text[c1:]


def request(text: str) -> ChatRequest:
    msgs = [{"role": "system", "content": "Answer the question."}, {"role": "user", "content": text}]
    return ChatRequest(model="smallfirst/auto", messages=msgs, body={"model": "smallfirst/auto", "messages": msgs,
                       "temperature": 0})


def answer(i: int) -> ChatResponse:
    return ChatResponse("m", {"role": "assistant", "content": f"answer {i}"}, "stop", Usage(1, 1))


def cost(r: dict[str, Any]) -> float:
    return float(r["prompt_chars"] + (r["response_chars"] or 4)) / 4 * USD_PER_MTOK / 1e6


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


async def build(tmp: Path, rows: list[dict[str, Any]], encode: Any, guard: Guard) -> ResponseCache:
    cfg = CacheConfig(enabled=True, semantic=True, semantic_guard=guard, similarity=0.5, max_entries=10**6,
                      max_bytes=10**9)
    cache = ResponseCache(cfg, CacheStore(str(tmp / f"cache-{guard}.db"), cfg.max_entries, cfg.max_bytes), encode)
    for i, r in enumerate(rows):
        req = request(r["prompt"])
        text = query_text(req) or ""
        await cache.keep(Pending(exact_key(req), None, contract_key(req, text, guard), text), answer(i), "frontier",
                         cost(r), Signals())
    return cache


def build_queries(rows: list[dict[str, Any]]) -> list[tuple[str, int, bool, str]]:
    """(text, the entry it should hit, should it match, kind)."""
    queries: list[tuple[str, int, bool, str]] = []
    half = len(rows) // 2
    for i, r in enumerate(rows):
        b, text = r["benchmark"], r["prompt"]
        queries.append((paraphrase(text, i), i, True, f"{b} paraphrase"))
        other = rows[half + (i + 1) % half]["prompt"]
        changed = number_changed(text) if b == "gsm8k" else option_changed(text, other, i)
        negs = [(changed, "number" if b == "gsm8k" else "options"), (word_changed(text), "opposite word"),
                (roles_swapped(text), "roles swapped")]
        queries += [(q, i, False, f"{b} {kind}") for q, kind in negs if q is not None]
    return queries


async def sweep(cache: ResponseCache, rows: list[dict[str, Any]], queries: list[tuple[str, int, bool, str]],
                guard: str, details: bool) -> None:
    best: list[tuple[int | None, float]] = []  # per query: the entry the cache would serve, and its similarity
    for text, *_ in queries:
        hit = (await cache.lookup(request(text), Signals())).hit
        best.append((int(hit.response.content.split()[1]), hit.similarity or 1.0) if hit else (None, 0.0))
    pairs = list(zip(queries, best, strict=True))
    npos, nneg = sum(q[2] for q in queries), sum(not q[2] for q in queries)
    print(f"\nsemantic_guard = {guard!r}\n")
    print("| similarity ≥ | hit rate (should match) | false hits (must not match) | wrong-entry hits | saved USD |")
    print("|---:|---:|---:|---:|---:|")
    for t in THRESHOLDS:
        good = [q for q, (b, s) in pairs if q[2] and b == q[1] and s >= t]
        wrong = sum(b is not None and b != q[1] and s >= t for q, (b, s) in pairs if q[2])
        false = sum(b is not None and s >= t for q, (b, s) in pairs if not q[2])
        saved = sum(cost(rows[q[1]]) for q in good)
        print(f"| {t:.2f} | {len(good) / npos:.1%} | {false / nneg:.2%} ({false}/{nneg}) | {wrong} | {saved:.4f} |")
    if details:
        print()
        for kind in sorted({q[3] for q in queries}):
            sims = [s for q, (b, s) in pairs if q[3] == kind and b is not None]
            n = sum(q[3] == kind for q in queries)
            spread = (f", similarity p5/p50/p95 {pct(sims, .05):.3f}/{pct(sims, .5):.3f}/{pct(sims, .95):.3f}"
                      if sims else "")
            print(f"- {kind}: {len(sims)} of {n} reached a same-contract entry{spread}")


async def figures(args: argparse.Namespace) -> None:
    rows = load(args.n, args.seed)
    encode = minilm_encoder()
    encode("warm up")
    memo: dict[str, Any] = {}

    def remembered(text: str) -> Any:  # each text embedded once across the three sweeps
        if text not in memo:
            memo[text] = encode(text)
        return memo[text]

    queries = build_queries(rows)
    print(f"{len(rows)} cached questions ({args.n} GSM8K, {args.n} MMLU, seed {args.seed}); "
          f"{sum(q[2] for q in queries)} should-match and {sum(not q[2] for q in queries)} must-not-match lookups; "
          "the exact cache alone hits none of them (every variant differs) and every literal repeat")
    guards: tuple[Guard, ...] = ("none", "bag", "words")
    with TemporaryDirectory() as d:
        for guard in guards:
            cache = await build(Path(d), rows, remembered, guard)
            await sweep(cache, rows, queries, guard, details=guard == "none")
            if guard != "words":
                cache.close()
        await latency(cache, rows, args.repeats, encode)
        cache.close()


async def timed(cache: ResponseCache, reqs: list[ChatRequest]) -> list[float]:
    out = []
    for r in reqs:
        t = time.perf_counter()
        await cache.lookup(r, Signals())
        out.append((time.perf_counter() - t) * 1000)
    return out


async def latency(cache: ResponseCache, rows: list[dict[str, Any]], repeats: int, encode: Any) -> None:
    exact = ResponseCache(cache.cfg.model_copy(update={"semantic": False}), cache.store)
    strict = ResponseCache(cache.cfg.model_copy(update={"similarity": 0.9999}), cache.store, encode)
    unseen = [request(f"{rows[i % len(rows)]['prompt']} (another variant)") for i in range(repeats)]
    # a cached question with a polite prefix: same contract, so the embedding is computed and compared
    near = [request(paraphrase(rows[i % len(rows)]["prompt"], 3)) for i in range(max(50, repeats // 10))]
    fresh = [request(f"never cached, {i} times over: {rows[0]['prompt']}") for i in range(repeats)]
    cols = {"exact only": await timed(exact, unseen),
            "semantic, same-contract entries present (embeds, compares)": await timed(strict, near),
            "semantic, no same-contract entry (pre-check only)": await timed(strict, fresh)}
    print("\nAdded latency of a lookup that misses (ms, this machine):\n")
    print("| lookup | p50 | p95 | n |\n|---|---:|---:|---:|")
    for name, xs in cols.items():
        print(f"| {name} | {statistics.median(xs):.3f} | {pct(xs, .95):.3f} | {len(xs)} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=300, help="questions per benchmark")
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--repeats", type=int, default=2000)
    asyncio.run(figures(p.parse_args()))


if __name__ == "__main__":
    main()
