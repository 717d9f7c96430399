"""Added latency of ``[access] shared = true``: the per-request access path, in memory vs PostgreSQL.

Times what the gateway does per request before it calls a backend — ``authenticate`` + ``await
admit_async`` — and then ``observe`` (settlement, which runs in the background) on a running event
loop, for:

* ``memory``: the default :class:`Access` (keys in SQLite, limits in memory), a key with a budget
  and rate limits (the baseline);
* ``shared, no limits``: :class:`SharedAccess`, a key without limits (no round trip per request);
* ``shared, budget``: a key with day and month budgets (one reservation transaction per request);
* ``shared, budget + rpm + tpm``: budgets and both rate limits.

Each case runs ``--requests`` requests one after another (latency p50/p99), then the same number
with ``--concurrency`` in flight (p50/p99 under contention, and requests/s). PostgreSQL: ``--pg-url``
or a throwaway local cluster started with the Debian binaries (as the tests do). Usage::

    python bench/access_shared.py [--requests 2000] [--concurrency 32] [--pg-url postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smallfirst.access import Access, KeyStore, Limits, SharedAccess
from smallfirst.access.pgstore import PgKeyStore
from smallfirst.config.loader import parse
from smallfirst.config.schema import AccessConfig
from smallfirst.core.types import ChatRequest, RequestRecord
from smallfirst.pipeline import build_tiers

SETTINGS = parse({"tiers": [
    {"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
    {"name": "frontier", "endpoints": [{"backend": "fake", "model": "f", "location": "us",
                                        "price_input_per_mtok": 10.0, "price_output_per_mtok": 30.0}]},
]})
BIG = Limits(budget_day_usd=1e9, budget_month_usd=1e9)
ALL = Limits(budget_day_usd=1e9, budget_month_usd=1e9, rpm=10**9, tpm=10**12)


def pg_url(given: str | None) -> contextlib.AbstractContextManager[str]:
    from tests.helpers import postgres

    return postgres.database(given)


def request() -> ChatRequest:
    return ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": "hello there"}], body={},
                       max_tokens=100, headers={})


def record(rid: str) -> RequestRecord:
    return RequestRecord(rid, time.time(), "smallfirst/auto", "frontier", "f", "frontier", 200, None, "", (), (),
                         10, 20, 0.00001, 1.0, None, False)


async def one(access: Access, headers: list[tuple[bytes, bytes]], rid: str) -> float:
    t0 = time.perf_counter()
    info = access.authenticate(headers)
    await access.admit_async(info, request(), rid)
    dt = time.perf_counter() - t0
    access.observe(record(rid))
    return dt


async def run(access: Access, key: str, n: int, concurrency: int, tag: str) -> dict[str, float]:
    headers = [(b"authorization", f"Bearer {key}".encode())]
    for i in range(50):  # warm-up: connections, caches
        await one(access, headers, f"{tag}-w{i}")
    seq = [await one(access, headers, f"{tag}-s{i}") for i in range(n)]
    sem = asyncio.Semaphore(concurrency)

    async def limited(i: int) -> float:
        async with sem:
            return await one(access, headers, f"{tag}-c{i}")

    t0 = time.perf_counter()
    conc = await asyncio.gather(*(limited(i) for i in range(n)))
    wall = time.perf_counter() - t0
    return {"p50_us": pct(seq, 50), "p99_us": pct(seq, 99), f"c{concurrency}_p50_us": pct(conc, 50),
            f"c{concurrency}_p99_us": pct(conc, 99), f"c{concurrency}_req_per_s": n / wall}


def pct(xs: list[float], p: int) -> float:
    return statistics.quantiles(xs, n=100)[p - 1] * 1e6 if p < 100 else max(xs) * 1e6


def wait_for(access: Access, key: str) -> None:
    deadline = time.monotonic() + 10
    while access.authenticate([(b"authorization", f"Bearer {key}".encode())]) is None:
        if time.monotonic() > deadline:
            raise SystemExit("the key never showed up")
        time.sleep(0.01)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--pg-url", help="an empty PostgreSQL database (default: a throwaway local cluster)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    tiers = build_tiers(SETTINGS)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "log.db")
        store = KeyStore(path)
        key, _ = store.create("bench", ALL)
        store.close()
        mem = Access.open(path, tiers, AccessConfig())
        results["memory (budget + rpm + tpm)"] = asyncio.run(run(mem, key, args.requests, args.concurrency, "m"))
        mem.close()
    with pg_url(args.pg_url) as url:
        pg = PgKeyStore(url)
        keys = {name: pg.create(name, lim)[0] for name, lim in
                (("shared, no limits", Limits()), ("shared, budget", BIG), ("shared, budget + rpm + tpm", ALL))}
        pg.close()
        shared = SharedAccess(url, tiers, AccessConfig(shared=True))
        try:
            for i, (name, k) in enumerate(keys.items()):
                wait_for(shared, k)
                results[name] = asyncio.run(run(shared, k, args.requests, args.concurrency, f"p{i}"))
        finally:
            shared.close()
    base = results["memory (budget + rpm + tpm)"]
    print(f"{'case':30} {'p50 µs':>9} {'p99 µs':>9} {'added p50':>10} {'added p99':>10} "
          f"{f'c{args.concurrency} p50':>10} {f'c{args.concurrency} p99':>10} {'req/s':>8}")
    for name, r in results.items():
        c = args.concurrency
        print(f"{name:30} {r['p50_us']:9.0f} {r['p99_us']:9.0f} {r['p50_us'] - base['p50_us']:10.0f} "
              f"{r['p99_us'] - base['p99_us']:10.0f} {r[f'c{c}_p50_us']:10.0f} {r[f'c{c}_p99_us']:10.0f} "
              f"{r[f'c{c}_req_per_s']:8.0f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
