"""How much of the package one request touches: files and Python calls inside ``smallfirst/``.

Builds the gateway in-process (no server, no network: the ASGI app is called directly with one
request) and counts, for a warmed-up request, every call whose code lives in the package and the
distinct files those calls are in. Two set-ups:

* ``minimal``: one local tier (fake backend), rules router, no keys, residency on (the default);
* ``full``: three tiers (local, mid in the EU, frontier in the US; fake backends), the learned router
  (trained here on RouteLLM GSM8K outcomes from ``../shared/data/routellm``), residency on and a
  gateway API key with a budget.

Usage:
    python bench/request_path.py [--data-dir ../shared/data/routellm] [--files]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
PKG = str(ROOT / "smallfirst")


def _tiers(full: bool) -> list[dict[str, Any]]:
    local = {"name": "local", "endpoints": [{"backend": "fake", "model": "echo", "name": "fake-local"}]}
    if not full:
        return [local]
    return [local,
            {"name": "mid", "endpoints": [{"backend": "fake", "model": "echo", "name": "fake-mid", "location": "eu",
                                           "price_input_per_mtok": 0.5, "price_output_per_mtok": 1.5}]},
            {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo", "name": "fake-frontier",
                                                "location": "us", "price_input_per_mtok": 3.0,
                                                "price_output_per_mtok": 15.0}]}]


def _artifact(work: Path, data_dir: str | None) -> str:
    from smallfirst.routing.outcomes import OutcomeTable
    from smallfirst.routing.routellm import load_routellm
    from smallfirst.routing.train import TrainSpec, train

    table = OutcomeTable.from_rows(load_routellm(["gsm8k"], data_dir=data_dir), tiers=("local", "frontier"))
    return str(train(table, TrainSpec()).save(work / "router.npz"))


def build(full: bool, work: Path, data_dir: str | None) -> tuple[Any, dict[str, str]]:
    from smallfirst.access.keys import Limits
    from smallfirst.access.keystore import KeyStore
    from smallfirst.config.loader import parse
    from smallfirst.server.app import create_app

    db = str(work / f"log-{'full' if full else 'minimal'}.db")
    cfg: dict[str, Any] = {"log": {"path": db}, "tiers": _tiers(full)}
    headers: dict[str, str] = {}
    if full:
        cfg["routing"] = {"router": "learned", "artifact": _artifact(work, data_dir)}
        store = KeyStore(db)
        key, _ = store.create("bench", Limits(budget_day_usd=100.0))
        store.close()
        headers = {"authorization": f"Bearer {key}"}
    return create_app(parse(cfg)), headers


async def one(app: Any, headers: dict[str, str], stream: bool) -> int:
    body = orjson.dumps({"model": "smallfirst/auto", "stream": stream,
                         "messages": [{"role": "user", "content": "Classify the sentiment: I love this phone"}]})
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         *((k.encode(), v.encode()) for k, v in headers.items())]}
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(msg: dict[str, Any]) -> None:
        nonlocal status
        if msg["type"] == "http.response.start":
            status = msg["status"]

    await app(scope, receive, send)
    return status


def count(app: Any, headers: dict[str, str], stream: bool) -> tuple[int, Counter[str]]:
    loop = asyncio.new_event_loop()
    try:
        for _ in range(3):  # warm: lazy imports, caches, first-request paths
            assert loop.run_until_complete(one(app, headers, stream)) == 200
        calls: Counter[str] = Counter()

        def prof(frame: FrameType, event: str, arg: object) -> None:
            if event == "call":
                f = frame.f_code.co_filename
                if f.startswith(PKG):
                    calls[f] += 1

        sys.setprofile(prof)
        try:
            status = loop.run_until_complete(one(app, headers, stream))
        finally:
            sys.setprofile(None)
        loop.run_until_complete(app.aclose())
    finally:
        loop.close()
    return status, calls


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "routellm"))
    ap.add_argument("--files", action="store_true", help="list the files and their call counts")
    args = ap.parse_args()
    print(f"{'set-up':<8} {'kind':<7} {'files':>5} {'calls':>6}")
    with tempfile.TemporaryDirectory() as d:
        for full in (False, True):
            for stream in (False, True):
                app, headers = build(full, Path(d), args.data_dir)
                status, calls = count(app, headers, stream)
                if status != 200:
                    print(f"error: the request got HTTP {status}", file=sys.stderr)
                    return 1
                print(f"{'full' if full else 'minimal':<8} {'stream' if stream else 'json':<7} {len(calls):>5} "
                      f"{sum(calls.values()):>6}")
                if args.files:
                    for f, n in sorted(calls.items(), key=lambda x: -x[1]):
                        print(f"    {n:>5}  {Path(f).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
