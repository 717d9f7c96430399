"""Admin API response time over a generated request log of 1,000,000 rows, on SQLite and PostgreSQL.

Generates N synthetic rows (mix near 70/20/10, escalations, errors, streams, sensitive requests)
spread over the last ``--days`` days, written with the stores' own row encoding and rollup cells
in large transactions, then times:

* ``Store.summary`` for the default range (24 h) and for 1 h / 7 d / 30 d (median of ``--repeat``);
* ``GET /admin/api/summary`` (default range) on a real gateway (uvicorn on 127.0.0.1, fake backends),
  end to end over HTTP;
* for comparison, one raw aggregate scan (``GROUP BY tier`` over the same 24 h of the requests table),
  which is what every dashboard refresh would cost without the rollup table.

PostgreSQL: ``--pg-url`` or, by default, a throwaway cluster started with the Debian binaries (as the
tests do). Usage::

    python bench/admin_api.py [--rows 1000000] [--days 1] [--repeat 20] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smallfirst.core.types import Attempt, RequestRecord, Usage  # noqa: E402
from smallfirst.store import rollup  # noqa: E402
from smallfirst.store.codec import COLUMNS, to_row  # noqa: E402

TIERS = ["local"] * 70 + ["mid"] * 20 + ["frontier"] * 10
TASKS = ["classify", "extract", "summarise", "translate", "rewrite", "code", "math", "reasoning", "knowledge", "chat"]
PRICES = {"local": (0.0, 0.0), "mid": (0.15, 0.6), "frontier": (2.0, 8.0)}
LATENCY = {"local": 5.0, "mid": 6.0, "frontier": 6.8}  # lognormal mu (ms)
REASONS = ["contract:label_not_in_set", "low_confidence", "upstream_timeout", "context_length_exceeded"]


def records(n: int, t0: float, t1: float, seed: int = 7) -> Iterator[RequestRecord]:
    rng = random.Random(seed)
    step = (t1 - t0) / n
    for i in range(n):
        tier: str | None = rng.choice(TIERS)
        status = 200
        if rng.random() < 0.01:
            tier, status = None, rng.choice([400, 404, 503])
        esc: tuple[str, ...] = ()
        attempts: list[Attempt] = []
        if tier in ("mid", "frontier") and rng.random() < 0.4:
            esc = ("local->mid",) if tier == "mid" else ("local->mid", "mid->frontier")
            attempts = [Attempt(s.split("->")[0], "m", "e", rng.choice(REASONS), 40.0) for s in esc]
        pt, ct = rng.randint(20, 2000), rng.randint(5, 400)
        pin, pout = PRICES[tier] if tier else (0.0, 0.0)
        cost = (pt * pin + ct * pout) / 1e6
        lat = rng.lognormvariate(LATENCY[tier], 0.6) if tier else 1.0
        stream = rng.random() < 0.3
        if tier:
            attempts.append(Attempt(tier, f"{tier}-model", f"{tier}-ep", "ok", lat, cost, Usage(pt, ct)))
        yield RequestRecord(
            request_id=f"req-{i:024x}", ts=t0 + i * step + rng.random() * step, requested_model="smallfirst/auto",
            tier=tier, model=f"{tier}-model" if tier else None, endpoint=f"{tier}-ep" if tier else None,
            status=status, error_code=None if tier else "x", reason="rules: bench", escalations=esc,
            attempts=tuple(attempts), prompt_tokens=pt if tier else 0, completion_tokens=ct if tier else 0,
            cost_usd=cost, latency_ms=lat, ttft_ms=lat * 0.3 if stream and tier else None, stream=stream,
            task_type=rng.choice(TASKS), sensitive=("pii",) if rng.random() < 0.05 else ())


def generate(write: Callable[[list[RequestRecord]], None], n: int, days: float, label: str) -> float:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    now = time.time()
    batch: list[RequestRecord] = []
    t = time.perf_counter()
    with Progress(TextColumn(f"generating {n:,} rows in {label}"), BarColumn(), TextColumn("{task.completed:,}"),
                  TimeRemainingColumn()) as bar:
        task = bar.add_task("rows", total=n)
        for r in records(n, now - days * 86400, now - 1):
            batch.append(r)
            if len(batch) == 20_000:
                write(batch)
                bar.advance(task, len(batch))
                batch = []
        if batch:
            write(batch)
            bar.advance(task, len(batch))
    return time.perf_counter() - t


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    fn()  # warm-up (page cache, plans)
    xs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        xs.append((time.perf_counter() - t) * 1000)
    return statistics.median(xs), max(xs)


def measure(store: Any, settings: Any, raw_scan: Callable[[float, float], Any], repeat: int) -> dict[str, Any]:
    import httpx

    from smallfirst.dashboard.views import choose_bucket
    from smallfirst.server.app import create_app
    from tests.helpers.gateway import running

    now = time.time()
    out: dict[str, Any] = {}

    def summary(span: int) -> Callable[[], Any]:
        return lambda: store.summary(since=now - span, until=now, bucket_s=choose_bucket(span))

    for label, span in (("1h", 3600), ("24h (default)", 86400), ("7d", 7 * 86400), ("30d", 30 * 86400)):
        out[f"summary {label}"] = timed(summary(span), repeat)
    out["raw GROUP BY scan 24h (no rollup)"] = timed(lambda: raw_scan(now - 86400, now), max(3, repeat // 5))
    app = create_app(settings)  # its own store on the same database, as `smallfirst serve` would open it
    with running(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        def get() -> None:
            r = c.get("/admin/api/summary")
            r.raise_for_status()
            out["_requests_in_range"] = r.json()["totals"]["requests"]
            out["_bytes"] = len(r.content)

        out["GET /admin/api/summary (HTTP, default 24h)"] = timed(get, repeat)
    return out


def bench_settings(log: dict[str, Any]) -> Any:
    from smallfirst.config.loader import parse

    return parse({"log": log, "tiers": [
        {"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
        {"name": "mid", "endpoints": [{"backend": "fake", "model": "echo", "location": "eu",
                                       "price_input_per_mtok": 0.15, "price_output_per_mtok": 0.6}]},
        {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo", "location": "us",
                                            "price_input_per_mtok": 2.0, "price_output_per_mtok": 8.0}]}]})


def run_sqlite(n: int, days: float, repeat: int, workdir: Path) -> dict[str, Any]:
    import sqlite3

    from smallfirst.store.sqlite import SQLiteStore, connect, migrate

    path = workdir / "bench.db"
    conn = connect(str(path))
    migrate(conn)
    insert = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

    def write(batch: list[RequestRecord]) -> None:
        conn.execute("BEGIN")
        conn.executemany(insert, [to_row(r) for r in batch])
        conn.executemany(rollup.UPSERT, rollup.rows_for(batch))
        conn.execute("COMMIT")

    gen_s = generate(write, n, days, "SQLite")
    conn.close()
    store = SQLiteStore(str(path))
    raw = sqlite3.connect(str(path))

    def scan(a: float, b: float) -> Any:
        return raw.execute("SELECT tier, COUNT(*), SUM(cost_usd), SUM(prompt_tokens) FROM requests "
                           "WHERE ts >= ? AND ts < ? GROUP BY tier", (a, b)).fetchall()

    try:
        out = measure(store, bench_settings({"path": str(path)}), scan, repeat)
    finally:
        store.close()
        raw.close()
    cells = sqlite3.connect(str(path)).execute("SELECT COUNT(*) FROM request_rollup").fetchone()[0]
    return {**out, "_generate_s": gen_s, "_db_mb": path.stat().st_size / 1e6, "_rollup_cells": cells}


def pg_url(given: str | None) -> contextlib.AbstractContextManager[str]:
    from tests.helpers import postgres

    return postgres.database(given)


def run_postgres(n: int, days: float, repeat: int, given: str | None) -> dict[str, Any]:
    import psycopg

    from smallfirst.store.postgres import PostgresStore, migrate

    with pg_url(given) as url:
        conn = psycopg.connect(url)
        migrate(conn)
        upsert = rollup.UPSERT.replace("?", "%s")

        def write(batch: list[RequestRecord]) -> None:
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(f"COPY requests ({', '.join(COLUMNS)}) FROM STDIN".encode()) as cp:
                    for r in batch:
                        cp.write_row(to_row(r))
                cur.executemany(upsert.encode(), rollup.rows_for(batch))

        gen_s = generate(write, n, days, "PostgreSQL")
        conn.close()
        with psycopg.connect(url, autocommit=True) as c:
            c.execute(b"VACUUM ANALYZE")
            cells = c.execute(b"SELECT COUNT(*) FROM request_rollup").fetchone()
            size = c.execute(b"SELECT pg_database_size(current_database())").fetchone()
        store = PostgresStore(url)
        raw = psycopg.connect(url, autocommit=True)

        def scan(a: float, b: float) -> Any:
            return raw.execute(b"SELECT tier, COUNT(*), SUM(cost_usd), SUM(prompt_tokens) FROM requests "
                               b"WHERE ts >= %s AND ts < %s GROUP BY tier", (a, b)).fetchall()

        try:
            out = measure(store, bench_settings({"url": url}), scan, repeat)
        finally:
            store.close()
            raw.close()
        return {**out, "_generate_s": gen_s, "_db_mb": (size[0] if size else 0) / 1e6,
                "_rollup_cells": cells[0] if cells else 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--days", type=float, default=1.0, help="spread the rows over this many days before now")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--only", choices=["sqlite", "postgres"])
    ap.add_argument("--pg-url", help="an empty PostgreSQL database (default: a throwaway local cluster)")
    args = ap.parse_args()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="smallfirst-bench-") as tmp:
        if args.only in (None, "sqlite"):
            results["SQLite"] = run_sqlite(args.rows, args.days, args.repeat, Path(tmp))
        if args.only in (None, "postgres"):
            results["PostgreSQL"] = run_postgres(args.rows, args.days, args.repeat, args.pg_url)
    print(f"\nadmin API over {args.rows:,} rows spread over the last {args.days:g} day(s); "
          f"median / max of {args.repeat} runs after one warm-up")
    for name, r in results.items():
        print(f"\n{name}: generated in {r['_generate_s']:.0f} s, database {r['_db_mb']:.0f} MB, "
              f"{r['_rollup_cells']:,} rollup cells; default range holds {r['_requests_in_range']:,} requests, "
              f"response {r['_bytes']:,} bytes")
        for k, v in r.items():
            if not k.startswith("_"):
                print(f"  {k:<44} {v[0]:9.1f} ms  (max {v[1]:.1f} ms)")


if __name__ == "__main__":
    main()
