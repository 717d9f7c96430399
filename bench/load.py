"""Load test: N concurrent streaming / non-streaming clients against a real `smallfirst serve` subprocess.

The upstream is bench/fake_upstream.py on 127.0.0.1 (its own process) with realistic latency: 50 ms
to the first token, 20 ms per chunk, 10 words by default. The same load is first sent straight to
the upstream (the baseline), then through the gateway; the difference is what the gateway adds.

Reports throughput, latency and time-to-first-token p50/p99 (and the gateway's additions), errors,
the gateway's RSS over time (growth after warm-up), its CPU per request, and the request-log rows
written versus the responses the clients received (read after a graceful SIGTERM). With
``--sigterm-at S`` the gateway is sent SIGTERM S seconds into the load: in-flight requests must
finish and every one of them must have its log row. ``--workers N`` runs ``smallfirst serve --workers N``
(default: serve's own default, the machine's cores); CPU and RSS are then summed over the supervisor
and its workers.

    .venv/bin/python bench/load.py --concurrency 256 --duration 60 [--workers 2] [--stream-share 1.0]
                                   [--no-baseline] [--sigterm-at 5] [--no-keys] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """
[server]
host = "127.0.0.1"
shutdown_timeout_s = {shutdown}

[log]
path = "{db}"

[residency]
enabled = false

[[tiers]]
name = "local"
[[tiers.endpoints]]
backend = "openai_compat"
model = "load-model"
base_url = "{upstream}/v1"
location = "local"
"""


@dataclass
class Run:
    """Per-request outcomes of one phase."""

    latency_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    ok: int = 0
    errors: int = 0  # HTTP status other than 200, an error event, or a stream without [DONE]
    cut: int = 0  # the connection failed after the request was sent (a response may have started)
    refused: int = 0  # no connection at all (e.g. after SIGTERM)
    sent: int = 0
    responses: int = 0  # requests that got an HTTP status line back
    error_samples: list[str] = field(default_factory=list)

    def note(self, what: str) -> None:
        if len(self.error_samples) < 5:
            self.error_samples.append(what[:200])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout:g} s")


async def one(session: aiohttp.ClientSession, url: str, model: str, headers: dict[str, str], stream: bool,
              run: Run) -> None:
    body = {"model": model,
            "messages": [{"role": "user", "content": "Summarise: the quick brown fox jumps over the lazy dog."}],
            "stream": stream, "max_tokens": 64}
    if stream:
        body["stream_options"] = {"include_usage": True}
    t0 = time.perf_counter()
    run.sent += 1
    try:
        async with session.post(url, json=body, headers=headers) as resp:
            run.responses += 1
            if not stream:
                data = await resp.read()
                good = resp.status == 200 and b'"choices"' in data
                if not good:
                    run.note(f"{resp.status} {data[:160]!r}")
            else:
                first = None
                good = False
                async for line in resp.content:
                    if first is None and line.startswith(b"data: {") and b'"content"' in line:
                        first = time.perf_counter()
                    if line.startswith(b"data: [DONE]"):
                        good = resp.status == 200
                    elif line.startswith(b'data: {"error"'):
                        run.note(line.decode(errors="replace"))
                if first is not None:
                    run.ttft_ms.append((first - t0) * 1000)
                if not good:
                    run.note(f"stream {resp.status} without [DONE]")
    except aiohttp.ClientConnectorError:
        run.refused += 1
        await asyncio.sleep(0.05)  # the gateway is gone (SIGTERM): do not spin
        return
    except (TimeoutError, aiohttp.ClientError) as err:
        run.cut += 1
        run.note(f"{type(err).__name__}: {err}")
        return
    if good:
        run.ok += 1
        run.latency_ms.append((time.perf_counter() - t0) * 1000)
    else:
        run.errors += 1


async def drive(url: str, model: str, key: str | None, concurrency: int, seconds: float, share: float,
                stop: asyncio.Event | None = None) -> Run:
    run = Run()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    end = time.monotonic() + seconds
    conn = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120, sock_connect=10)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:

        async def worker(i: int) -> None:
            n = 0
            while time.monotonic() < end and not (stop is not None and stop.is_set()):
                stream = ((i * 37 + n) % 100) < share * 100
                await one(session, url, model, headers, stream, run)
                n += 1

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return run


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def summary(name: str, run: Run, seconds: float) -> dict[str, str | float | int]:
    return {"phase": name, "rps": round(run.ok / seconds, 1), "ok": run.ok, "errors": run.errors, "cut": run.cut,
            "refused": run.refused, "sent": run.sent, "responses": run.responses,
            "p50_ms": round(pct(run.latency_ms, 50), 2), "p99_ms": round(pct(run.latency_ms, 99), 2),
            "ttft_p50_ms": round(pct(run.ttft_ms, 50), 2), "ttft_p99_ms": round(pct(run.ttft_ms, 99), 2)}


def tree(proc: psutil.Process) -> list[psutil.Process]:
    """The gateway's processes: the one `serve` process, or the supervisor and its workers."""
    return [proc, *proc.children()]


def tree_cpu(procs: list[psutil.Process]) -> float:
    """User + system CPU seconds of ``procs`` (a process that exited counts 0)."""
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += sum(p.cpu_times()[:2])
    return total


def tree_rss_mb(procs: list[psutil.Process]) -> float:
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total / 2**20


def busy_share(t0: Any, t1: Any) -> float:
    """Share of all the machine's cores that were busy between two ``psutil.cpu_times()``."""
    total = sum(t1) - sum(t0)
    idle = (t1.idle + getattr(t1, "iowait", 0.0)) - (t0.idle + getattr(t0, "iowait", 0.0))
    return round(1.0 - idle / total, 3) if total > 0 else float("nan")


def wait_workers(proc: psutil.Process, port: int, n: int, timeout: float = 120.0) -> None:
    """Until ``n`` worker processes listen on ``port`` (nothing to wait for with one process)."""
    deadline = time.monotonic() + timeout
    while n > 1 and time.monotonic() < deadline:
        up = 0
        for child in proc.children():
            with contextlib.suppress(psutil.Error):
                up += any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in child.net_connections("tcp"))
        if up >= n:
            return
        time.sleep(0.1)
    if n > 1:
        raise RuntimeError(f"{n} workers did not come up in {timeout:g} s")


async def phase(label: str, url: str, model: str, key: str | None, args: argparse.Namespace,
                gateway: psutil.Process | None, rss: list[tuple[float, float]], marks: dict[str, float]
                ) -> tuple[Run, Run, float, float]:
    """Warm up, then measure; sample the gateway's RSS every second. Returns (warm-up, run, seconds, CPU s)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    warm = await drive(url, model, key, args.concurrency, args.warmup, args.stream_share)
    procs = tree(gateway) if gateway else []
    cpu0 = tree_cpu(procs)
    machine0 = psutil.cpu_times()
    stop = asyncio.Event()
    duration = args.duration if gateway is not None or args.baseline_duration is None else args.baseline_duration
    t0 = time.monotonic()
    task = asyncio.ensure_future(drive(url, model, key, args.concurrency, duration, args.stream_share,
                                       stop=stop))
    signalled = False
    with Progress(TextColumn(f"{label:8s}"), BarColumn(), TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                  transient=False) as bar:
        tid = bar.add_task(label, total=duration, info="")
        while not task.done():
            await asyncio.sleep(1.0)
            elapsed = time.monotonic() - t0
            if gateway is not None and not signalled:
                rss.append((elapsed, tree_rss_mb(procs)))
            if gateway is not None and args.sigterm_at is not None and not signalled and elapsed >= args.sigterm_at:
                gateway.send_signal(signal.SIGTERM)
                marks["sigterm"] = time.monotonic()
                signalled = True
            info = f"RSS {rss[-1][1]:.0f} MB" if rss and gateway else ""
            bar.update(tid, completed=min(elapsed, duration), info=info)
    seconds = time.monotonic() - t0
    cpu = (tree_cpu(procs) - cpu0) if gateway and gateway.is_running() else float("nan")
    marks["busy"] = busy_share(machine0, psutil.cpu_times())
    return warm, task.result(), seconds, cpu


def plot(path: Path, rss: list[tuple[float, float]], direct: Run | None, gw: Run) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    if rss:
        a.plot([t for t, _ in rss], [m for _, m in rss])
    a.set_xlabel("seconds under load")
    a.set_ylabel("gateway RSS (MB)")
    a.set_ylim(0, max((m for _, m in rss), default=1.0) * 1.2)
    a.set_title("Gateway memory")
    for name, run in (("direct to upstream", direct), ("through smallfirst", gw)):
        if run is not None and run.latency_ms:
            xs = np.sort(np.asarray(run.latency_ms))
            b.plot(xs, np.linspace(0, 1, len(xs)), label=name)
    b.set_xlabel("request latency (ms)")
    b.set_ylabel("share of requests")
    b.set_title("Latency CDF")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def log_rows(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        n: int = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    finally:
        conn.close()
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--duration", type=float, default=60.0, help="measured seconds per phase")
    ap.add_argument("--baseline-duration", type=float, default=None, help="seconds for the baseline (default: "
                    "--duration)")
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--stream-share", type=float, default=1.0, help="share of streaming requests (0..1)")
    ap.add_argument("--ttft-ms", type=float, default=50.0)
    ap.add_argument("--chunk-ms", type=float, default=20.0)
    ap.add_argument("--words", type=int, default=10)
    ap.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--keys", action=argparse.BooleanOptionalAction, default=True, help="send a gateway API key")
    ap.add_argument("--sigterm-at", type=float, default=None, help="SIGTERM the gateway this many s into the load")
    ap.add_argument("--shutdown-timeout", type=int, default=30)
    ap.add_argument("--workers", type=int, default=None, help="smallfirst serve --workers (default: serve's "
                    "default, the machine's cores)")
    ap.add_argument("--out", default=None, help="directory for the PNG and JSON (default: a temp dir)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="smallfirst-load-"))
    out = Path(args.out) if args.out else work
    out.mkdir(parents=True, exist_ok=True)
    db = work / "log.db"
    up_port, gw_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    (work / "smallfirst.toml").write_text(CONFIG.format(shutdown=args.shutdown_timeout, db=db, upstream=upstream))
    key = None
    if args.keys:
        from smallfirst.access import KeyStore, Limits

        store = KeyStore(str(db))
        key, _ = store.create("load", Limits())
        store.close()
    up = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fake_upstream.py"), "--port", str(up_port),
                           "--ttft-ms", str(args.ttft_ms), "--chunk-ms", str(args.chunk_ms),
                           "--words", str(args.words)])
    workers = ["--workers", str(args.workers)] if args.workers is not None else []
    gw = subprocess.Popen([sys.executable, "-m", "smallfirst.cli.main", "serve", "--config",
                           str(work / "smallfirst.toml"), "--port", str(gw_port), *workers], cwd=work,
                          stdout=subprocess.DEVNULL)
    rss: list[tuple[float, float]] = []
    marks: dict[str, float] = {}  # monotonic times of the SIGTERM and of the gateway's exit

    def watch_exit() -> None:
        gw.wait()
        marks["exit"] = time.monotonic()

    exited = threading.Thread(target=watch_exit, daemon=True)
    exited.start()
    try:
        wait_http(upstream + "/v1/models", up)
        wait_http(f"http://127.0.0.1:{gw_port}/healthz", gw)
        proc = psutil.Process(gw.pid)
        n_workers = args.workers if args.workers is not None else len(os.sched_getaffinity(0))
        wait_workers(proc, gw_port, n_workers)
        n_workers = max(1, len(proc.children()))  # what serve really started (1: no children)
        direct = None
        direct_marks: dict[str, float] = {}
        if args.baseline:
            _, direct, dsec, _ = asyncio.run(phase("direct", upstream + "/v1/chat/completions", "load-model", None,
                                                args, None, [], direct_marks))
        gw_url = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
        idle_rss = tree_rss_mb(tree(proc))
        warm, run, seconds, cpu = asyncio.run(phase("gateway", gw_url, "smallfirst/auto", key, args, proc, rss, marks))
        if gw.poll() is None:
            marks["sigterm"] = time.monotonic()
            gw.send_signal(signal.SIGTERM)
        code = gw.wait(timeout=args.shutdown_timeout + 30)
        exited.join()
        stop_s = marks["exit"] - marks["sigterm"]
    finally:
        for p in (gw, up):
            if p.poll() is None:
                p.kill()
                p.wait()
    rows = log_rows(db)
    gw_sum = summary("gateway", run, seconds)
    res: dict[str, object] = {"bench": "smallfirst-load", "concurrency": args.concurrency, "workers": n_workers,
                              "stream_share": args.stream_share, "duration_s": round(seconds, 1), "gateway": gw_sum,
                              "exit_code": code, "stop_s": round(stop_s, 2)}
    if direct is not None:
        d = summary("direct", direct, dsec)
        res["direct"] = d
        res["added_ms"] = {k: round(float(gw_sum[k]) - float(d[k]), 2)
                           for k in ("p50_ms", "p99_ms", "ttft_p50_ms", "ttft_p99_ms")}
    steady = [m for t, m in rss if t >= min(10.0, seconds / 4)]
    res["rss_mb"] = {"idle": round(idle_rss, 1), "first": round(steady[0], 1) if steady else None,
                     "last": round(steady[-1], 1) if steady else None,
                     "max": round(max(m for _, m in rss), 1) if rss else None,
                     "growth": round(steady[-1] - steady[0], 1) if steady else None}
    res["cpu_us_per_request"] = round(cpu / max(1, run.ok) * 1e6, 1) if cpu == cpu else None
    # the whole machine: load generator, upstream and gateway share its cores
    res["machine_busy"] = {"direct": direct_marks.get("busy"), "gateway": marks.get("busy"),
                           "cores": len(os.sched_getaffinity(0))}
    # every request that reached the gateway's app has a row; the clients saw `responses` of them (warm-up included)
    responses, sent = warm.responses + run.responses, warm.sent + run.sent
    res["log"] = {"rows": rows, "responses": responses, "sent": sent, "lost": max(0, responses - rows),
                  "rows_without_response": max(0, rows - responses)}
    res["error_samples"] = run.error_samples
    png = out / "load.png"
    plot(png, rss, direct, run)
    (out / "load.json").write_text(json.dumps(res, indent=2))
    print_report(res, png)
    print(json.dumps(res))
    return 0 if run.errors == 0 and res["log"]["lost"] == 0 else 1  # type: ignore[index]


def print_report(res: dict[str, object], png: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table("phase", "req/s", "ok", "errors", "cut", "refused", "p50 ms", "p99 ms", "TTFT p50", "TTFT p99",
              title=f"c={res['concurrency']} stream share {res['stream_share']} for {res['duration_s']} s")
    for key in ("direct", "gateway"):
        s = res.get(key)
        if isinstance(s, dict):
            t.add_row(key, *(str(s[k]) for k in ("rps", "ok", "errors", "cut", "refused", "p50_ms", "p99_ms",
                                                 "ttft_p50_ms", "ttft_p99_ms")))
    c = Console()
    c.print(t)
    c.print(f"added by the gateway: {res.get('added_ms')}")
    c.print(f"gateway RSS MB ({res['workers']} worker(s), summed): {res['rss_mb']}   "
            f"CPU per request: {res['cpu_us_per_request']} us")
    code = res["exit_code"]
    how = "SIGTERM, graceful (uvicorn re-raises the signal)" if code == -signal.SIGTERM else f"exit code {code}"
    c.print(f"machine CPU busy (all processes, share of {res['machine_busy']['cores']} cores): "  # type: ignore[index]
            f"{res['machine_busy']}")
    c.print(f"log rows: {res['log']}   stopped by {how} in {res['stop_s']} s")
    c.print(f"plot: {png}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
