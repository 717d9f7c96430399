"""What the smallfirst gateway adds over calling a fast mock upstream directly.

Runs the shared gateway-bench harness (../shared/gateway-bench, not copied here) with smallfirst as a
column next to the minimal aiohttp pass-through (the "Python floor") — optionally LiteLLM too — in one
interleaved run, then prints the figures and the ratios the project targets:

* added latency p50/p99 at concurrency 1 (target: median < 1 ms),
* throughput at concurrency 32 vs the aiohttp pass-through (target: >= 50 %),
* streaming TTFB and throughput, gateway CPU per request and peak RSS.

Usage:
    python bench/gateway_overhead.py [--harness ../shared/gateway-bench] [--rounds 2] [--n-scale 1.0]
                                     [--with litellm] [--scenarios json_c1,json_c32,stream_c1,stream_c32]
The harness's own venv is created with its setup_envs.sh (in the system temp dir) when missing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """
[server]
host = "127.0.0.1"

[log]
path = "{workdir}/smallfirst-bench.db"

[routing]
router = "rules"

[[tiers]]
name = "local"
[[tiers.endpoints]]
backend = "openai_compat"
model = "mock-gpt"
base_url = "{upstream}/v1"
location = "local"
"""


FULL_CONFIG = """
[server]
host = "127.0.0.1"

[log]
path = "{log}"

[routing]
router = "learned"
artifact = "{artifact}"

[residency]
enabled = true

[[tiers]]
name = "local"
[[tiers.endpoints]]
backend = "openai_compat"
model = "mock-gpt"
base_url = "{{upstream}}/v1"
location = "local"

[[tiers]]
name = "mid"
[[tiers.endpoints]]
backend = "openai_compat"
model = "mock-gpt-mid"
base_url = "{{upstream}}/v1"
location = "eu"
price_input_per_mtok = 0.5
price_output_per_mtok = 1.5

[[tiers]]
name = "frontier"
[[tiers.endpoints]]
backend = "openai_compat"
model = "mock-gpt-frontier"
base_url = "{{upstream}}/v1"
location = "us"
price_input_per_mtok = 3.0
price_output_per_mtok = 15.0
"""


def full_path(work: Path, data_dir: str) -> tuple[str, str]:
    """The "full path" set-up: three tiers (local, mid in the EU, frontier in the US; all on the mock), the
    learned router trained on RouteLLM GSM8K outcomes, residency on and a gateway API key with a budget.
    Returns (config template, the key)."""
    from smallfirst.access.keys import Limits
    from smallfirst.access.keystore import KeyStore
    from smallfirst.routing.outcomes import OutcomeTable
    from smallfirst.routing.routellm import load_routellm
    from smallfirst.routing.train import TrainSpec, train

    table = OutcomeTable.from_rows(load_routellm(["gsm8k"], data_dir=data_dir), tiers=("local", "frontier"))
    artifact = train(table, TrainSpec()).save(work / "router.npz")
    log = work / "smallfirst-full.db"
    store = KeyStore(str(log))
    key, _ = store.create("bench", Limits(budget_day_usd=1000.0))
    store.close()
    return FULL_CONFIG.format(log=log, artifact=artifact), key


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--harness", default=str(ROOT.parent / "shared" / "gateway-bench"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--n-scale", type=float, default=1.0)
    ap.add_argument("--scenarios", default="json_c1,json_c32,stream_c1,stream_c32")
    ap.add_argument("--with", dest="also", default="", help="extra harness columns, e.g. litellm")
    ap.add_argument("--model", default="smallfirst/auto", help="model the load sends to smallfirst")
    ap.add_argument("--no-full", action="store_true", help="skip the full-path column (smallfirst-full)")
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "routellm"),
                    help="RouteLLM outcomes the full path's learned router is trained on")
    ap.add_argument("--workers", type=int, default=1, help="smallfirst serve --workers (1: one process, like "
                    "the pass-through it is compared with)")
    args = ap.parse_args()

    harness = Path(args.harness).resolve()
    if not (harness / "run_overhead.py").exists():
        print(f"error: gateway-bench harness not found at {harness} (pass --harness)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.gettempdir())
    bench_py = Path(os.environ.get("BENCH_VENV", tmp / "benchenv")) / "bin" / "python"
    if not bench_py.exists():
        subprocess.run(["bash", str(harness / "setup_envs.sh"), "bench"], cwd=harness, check=True)
    template = Path(tempfile.mkdtemp(prefix="smallfirst-bench-")) / "smallfirst.toml.tmpl"
    template.write_text(CONFIG)
    gateway = {
        "name": "smallfirst",
        "cmd": [sys.executable, "-m", "smallfirst.cli.main", "serve", "--config", "{workdir}/smallfirst.toml",
                "--port", "{port}", "--workers", str(args.workers)],
        "templates": {"smallfirst.toml": str(template)},
        "url": "http://127.0.0.1:{port}",
        "model": args.model,
        "startup_timeout_s": 60,
    }
    columns = ["passthrough-aiohttp", "smallfirst"]
    extra: list[str] = []
    if not args.no_full:
        work = template.parent
        text, key = full_path(work, args.data_dir)
        (work / "smallfirst-full.toml.tmpl").write_text(text)
        full = {**gateway, "name": "smallfirst-full",
                "cmd": [c.replace("smallfirst.toml", "smallfirst-full.toml") for c in gateway["cmd"]],
                "templates": {"smallfirst-full.toml": str(work / "smallfirst-full.toml.tmpl")},
                "headers": {"Authorization": f"Bearer {key}"}}
        columns.append("smallfirst-full")
        extra = ["--gateway-json", json.dumps(full)]
    only = ",".join(x for x in [*columns, *args.also.split(",")] if x)
    cmd = [str(bench_py), "run_overhead.py", "--only", only, "--rounds", str(args.rounds), "--n-scale",
           str(args.n_scale), "--scenarios", args.scenarios, "--gateway-json", json.dumps(gateway), *extra,
           "--machine-label", f"{os.cpu_count()}-core"]
    proc = subprocess.run(cmd, cwd=harness, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n", file=sys.stderr)
        return proc.returncode or 1
    summary = json.loads(lines[-1])
    print("\n".join(lines[:-1][-60:]))
    print("\n== smallfirst vs the aiohttp pass-through (same run) ==")
    for (sc, cols), name in ((x, n) for x in summary.get("results", {}).items() for n in columns[1:]):
        me, floor = cols.get(name, {}), cols.get("passthrough-aiohttp", {})
        if not me:
            continue
        print(f"{sc:11s} {name:15s} {me.get('rps', 0):8.0f} req/s  added p50 {me.get('added_p50_ms', 0):6.3f} ms  "
              f"p99 {me.get('added_p99_ms', 0):6.3f} ms  cpu/req {me.get('gw_cpu_us_per_req', 0):6.0f} us  | "
              f"pass-through {floor.get('rps', 0):8.0f} req/s  added p50 {floor.get('added_p50_ms', 0):6.3f} ms  "
              f"| ratio rps {me.get('rps_vs_floor', 0):.2f}")
    t = summary.get("targets", {}).get("smallfirst", {})
    print(f"smallfirst RSS idle {t.get('idle_rss_mb')} MB, peak {t.get('peak_rss_mb')} MB")
    print(f"full results: {harness / summary.get('full_results', '')}")
    print(json.dumps({"bench": "smallfirst-gateway-overhead", "ok": summary.get("ok"),
                      "results": {sc: cols.get("smallfirst") for sc, cols in summary.get("results", {}).items()},
                      "full": {sc: cols.get("smallfirst-full") for sc, cols in summary.get("results", {}).items()},
                      "floor": {sc: cols.get("passthrough-aiohttp") for sc, cols in
                                summary.get("results", {}).items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
