"""Latency saved by routing on the local runtime's state, against blind routing, on a mixed workload.

Set-up (fakes on 127.0.0.1, the real gateway under uvicorn, the openai SDK as the client):

* a balanced local tier of two llama.cpp ``llama-server`` fakes, one of them saturated (its only slot is
  busy with another client's work, so a request waits ``--queue-ms`` for it);
* an LM Studio fake whose model is not loaded (just-in-time loading takes ``--load-ms`` on the first
  request) as the local tier, a fast remote tier above it, and every other request carrying a 1000 ms
  latency budget (``x-smallfirst-max-latency-ms``);

"blind" is today's routing without runtime state: the same servers configured as ``openai_compat``
endpoints (nothing is polled); "aware" configures them as ``llamacpp`` and ``lmstudio``, polled every
0.2 s. Both run ``warm = "free"`` so the cold model is not loaded at start-up.

Usage:
    python bench/runtime_routing.py [--n 40] [--queue-ms 400] [--load-ms 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import openai  # noqa: E402

from smallfirst.config.loader import parse  # noqa: E402
from smallfirst.server.app import create_app  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402
from tests.fakes.runtime_servers import FakeLlamaServer, FakeLMStudio  # noqa: E402
from tests.helpers.gateway import running  # noqa: E402

MSG = [{"role": "user", "content": "ping"}]


def balanced(aware: bool, a: str, b: str) -> list[dict[str, Any]]:
    kind = "llamacpp" if aware else "openai_compat"
    return [{"name": "local", "strategy": "balanced", "endpoints": [
        {"backend": kind, "model": "local-model", "base_url": a, "name": "slot-a"},
        {"backend": kind, "model": "local-model", "base_url": b, "name": "slot-b"}]}]


def cold(aware: bool, lm: str, remote: str) -> list[dict[str, Any]]:
    return [{"name": "local", "endpoints": [{"backend": "lmstudio" if aware else "openai_compat",
                                             "model": "qwen2.5-7b-instruct", "base_url": lm}]},
            {"name": "remote", "endpoints": [{"backend": "openai_compat", "model": "cloud", "base_url": remote,
                                              "location": "us"}]}]


def gateway(tiers: list[dict[str, Any]], log: Path) -> Any:
    return create_app(parse({"log": {"path": str(log)}, "tiers": tiers,
                             "routing": {"warm": "free", "runtime_poll_s": 0.2}}))


def timed(client: openai.OpenAI, headers: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = client.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=MSG,  # type: ignore[arg-type]
                                                         extra_headers=headers)
    return time.perf_counter() - t0, r.headers["x-smallfirst-tier"]


def run(aware: bool, n: int, queue_s: float, load_s: float, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with FakeLlamaServer(queue_delay_s=queue_s).in_thread() as a, FakeLlamaServer().in_thread() as b:
        a.busy = 1  # another client holds slot-a's only slot
        with running(gateway(balanced(aware, a.base_url, b.base_url), tmp / f"a-{aware}.db")) as url:
            httpx.get(url + "/healthz", timeout=30)  # the first poll
            client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=60)
            out["balanced"] = [timed(client, {})[0] for _ in range(n)]
    with FakeLMStudio(load_delay_s=load_s).in_thread() as lm, FakeOpenAI(model="cloud").in_thread() as remote, \
            running(gateway(cold(aware, lm.base_url, remote.base_url), tmp / f"b-{aware}.db")) as url:
        httpx.get(url + "/healthz", timeout=30)
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=60)
        runs = [timed(client, {"x-smallfirst-max-latency-ms": "1000"} if i % 2 == 0 else {}) for i in range(n)]
        out["budgeted"] = [t for i, (t, _) in enumerate(runs) if i % 2 == 0]
        out["plain"] = [t for i, (t, _) in enumerate(runs) if i % 2 == 1]
        out["remote"] = sum(tier == "remote" for _, tier in runs)
    return out


def _fmt(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
    return f"mean {statistics.fmean(xs) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  max {xs[-1] * 1000:7.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--queue-ms", type=float, default=400)
    ap.add_argument("--load-ms", type=float, default=2000)
    args = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        for aware in (False, True):
            got = run(aware, args.n, args.queue_ms / 1000, args.load_ms / 1000, Path(d))
            name = "aware" if aware else "blind"
            print(f"{name}: balanced tier, one of two slots saturated ({args.n} requests): {_fmt(got['balanced'])}")
            print(f"{name}: cold LM Studio model, budgeted 1000 ms ({len(got['budgeted'])}): {_fmt(got['budgeted'])}")
            print(f"{name}: cold LM Studio model, no budget ({len(got['plain'])}): {_fmt(got['plain'])}; "
                  f"answered remotely: {got['remote']} of {args.n}")


if __name__ == "__main__":
    main()
