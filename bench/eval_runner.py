"""Throughput of the `smallfirst eval` runner against a fast fake upstream, and its overhead per task.

A protocol-faithful fake OpenAI server (tests/fakes, no delay) runs in its own process on 127.0.0.1.
Each round, interleaved:

* raw    — the gateway's OpenAI-compatible backend called directly, ``concurrency`` at once (the floor:
           HTTP client + fake server, no runner);
* runner — ``EvalRunner`` on the same tasks: request building, per-endpoint limits, retries wrapper,
           scoring (token F1), a flushed JSONL row per result, outcomes file at the end.

Prints tasks/s for both (median of the rounds), the runner's wall-time overhead per task
(1/runner − 1/raw at that concurrency), its CPU per task against raw, and the time a resumed run
takes to skip everything already done.

With ``--sample-report DIR`` it instead renders a sample report: a small labelled set (sentiment,
arithmetic, JSON extraction, summaries; written for this script) run with the embedded SmolLM2-135M
as the local tier and, as the upper tier, the fake OpenAI server answering from the answer key (a
stand-in for a frontier model, priced like gpt-4o), through `smallfirst eval`.

Usage:
    python bench/eval_runner.py [--tasks 2000] [--concurrency 16] [--rounds 3] [--progress]
    python bench/eval_runner.py --sample-report /tmp/eval-sample
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVER = """
import asyncio, json, sys
from tests.helpers.evalrun import Knows
from tests.fakes import FakeOpenAI
async def main():
    srv = Knows(json.load(open(sys.argv[1]))) if len(sys.argv) > 1 else FakeOpenAI()
    await srv.start()
    print(srv.base_url, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def start_fake(answers: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    argv = [sys.executable, "-c", SERVER, *([str(answers)] if answers else [])]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit("the fake upstream did not start")
    return proc, url


def make_tasks(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"t{i}", "type": "knowledge", "prompt": f"question number {i}",
                                 "expected": f"echo: question number {i}"}) + "\n")


async def raw(url: str, tasks: list[object], conc: int) -> tuple[float, float]:
    from smallfirst.config.schema import Settings
    from smallfirst.evaluate.runner import RunOptions, build_request
    from smallfirst.evaluate.tasks import Task
    from smallfirst.pipeline import build_tiers

    settings = Settings.model_validate(_cfg(url))
    [tier] = build_tiers(settings)
    ep = tier.endpoints[0]
    sem = asyncio.Semaphore(conc)
    opts = RunOptions()
    reqs = [build_request(t, ep, opts) for t in tasks if isinstance(t, Task)]

    async def one(r: object) -> None:
        async with sem:
            await ep.backend.complete(r)  # type: ignore[arg-type]

    c0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(r) for r in reqs))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    await ep.backend.aclose()
    return wall, cpu


def _cfg(url: str) -> dict[str, object]:
    return {"residency": {"enabled": False}, "tiers": [{"name": "frontier", "endpoints": [{
        "backend": "openai_compat", "model": "gpt-fake", "base_url": url, "location": "us",
        "price_input_per_mtok": 2.5, "price_output_per_mtok": 10.0}]}]}


async def runner(url: str, tasks: list[object], run_dir: Path, conc: int, progress: bool) -> tuple[float, float]:
    from smallfirst.config.schema import Settings
    from smallfirst.evaluate.runner import EvalRunner, RunOptions
    from smallfirst.pipeline import build_tiers

    tiers = build_tiers(Settings.model_validate(_cfg(url)))
    r = EvalRunner(tiers, tasks, run_dir, RunOptions(concurrency=conc, progress=progress))  # type: ignore[arg-type]
    c0, t0 = time.process_time(), time.perf_counter()
    stats = await r.run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert stats.ran == len(tasks) and stats.failed == 0, stats
    for t in tiers:
        for ep in t.endpoints:
            await ep.backend.aclose()
    return wall, cpu


async def resume(url: str, tasks: list[object], run_dir: Path) -> int:
    """Rerun a finished run: everything is skipped (reads and checks the results file)."""
    from smallfirst.config.schema import Settings
    from smallfirst.evaluate.runner import EvalRunner, RunOptions
    from smallfirst.pipeline import build_tiers

    tiers = build_tiers(Settings.model_validate(_cfg(url)))
    st = await EvalRunner(tiers, tasks, run_dir, RunOptions(progress=False)).run()  # type: ignore[arg-type]
    return st.skipped


REVIEWS = [("An absolute delight from start to finish.", "positive"), ("Dull, slow and far too long.", "negative"),
           ("The acting was superb and the story moving.", "positive"), ("I want my two hours back.", "negative"),
           ("Funny, warm and beautifully shot.", "positive"), ("The plot made no sense at all.", "negative"),
           ("A clever script with a great cast.", "positive"), ("Boring characters and a lazy ending.", "negative")]
SUMS = [(12, 30), (17, 25), (8, 9), (144, 56), (99, 1), (250, 175)]
PEOPLE = [("Maria", 34), ("Tom", 51), ("Aiko", 27), ("Lars", 42), ("Nadia", 19)]
TEXTS = [
    ("The town council voted on Tuesday to build a new library next to the station. Work starts in May and "
     "should take two years.", "The council voted to build a new library by the station, starting in May."),
    ("Heavy rain flooded several roads in the north overnight. Police closed two bridges and asked drivers to "
     "stay at home until the water goes down.", "Overnight rain flooded northern roads and police closed two "
     "bridges."),
    ("The bakery on Main Street won a national prize for its rye bread. The owner says the secret is a "
     "starter that is forty years old.", "A Main Street bakery won a national prize for its rye bread."),
    ("Researchers found that people who walk for twenty minutes a day sleep better. The study followed three "
     "hundred adults for a year.", "A year-long study found a daily twenty-minute walk improves sleep."),
]
PERSON_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                 "required": ["name", "age"]}


def sample_tasks() -> tuple[list[dict[str, object]], dict[str, str]]:
    """The sample task set and the upper-tier stand-in's answers (from the key)."""
    tasks: list[dict[str, object]] = []
    key: dict[str, str] = {}
    for i, (text, label) in enumerate(REVIEWS):
        p = f"Is this movie review positive or negative? Answer with one word.\n\n{text}"
        tasks.append({"id": f"review-{i}", "type": "classify", "prompt": p, "expected": label,
                      "contract": {"labels": ["positive", "negative"]}})
        key[p] = label
    for i, (a, b) in enumerate(SUMS):
        p = f"What is {a} + {b}? Reply with the number only."
        tasks.append({"id": f"sum-{i}", "type": "math", "prompt": p, "expected": a + b})
        key[p] = str(a + b)
    for i, (name, age) in enumerate(PEOPLE):
        p = f"Extract the person's name and age as JSON.\n\n{name} is {age} years old and lives by the sea."
        tasks.append({"id": f"person-{i}", "type": "extract", "prompt": p, "expected": {"name": name, "age": age},
                      "contract": {"schema": PERSON_SCHEMA}})
        key[p] = json.dumps({"name": name, "age": age})
    for i, (text, ref) in enumerate(TEXTS):
        p = f"Summarise in one sentence:\n\n{text}"
        tasks.append({"id": f"news-{i}", "type": "summarise", "prompt": p, "expected": ref})
        key[p] = ref
    return tasks, key


def sample_report(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    tasks, key = sample_tasks()
    tf = out / "sample-tasks.jsonl"
    tf.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")
    (out / "answer-key.json").write_text(json.dumps(key), encoding="utf-8")
    proc, url = start_fake(out / "answer-key.json")
    try:
        (out / "smallfirst.toml").write_text(
            '[residency]\nenabled = false\n\n[[tiers]]\nname = "local"\n[[tiers.endpoints]]\n'
            'backend = "embedded"\nn_ctx = 1024\n\n[[tiers]]\nname = "frontier"\n[[tiers.endpoints]]\n'
            f'backend = "openai_compat"\nmodel = "frontier-stand-in"\nbase_url = "{url}"\nlocation = "us"\n'
            "price_input_per_mtok = 2.5\nprice_output_per_mtok = 10.0\n", encoding="utf-8")
        argv = [sys.executable, "-m", "smallfirst.cli.main", "eval", str(tf), "-c", str(out / "smallfirst.toml"),
                "-o", str(out / "run"), "--max-tokens", "48"]
        print("$ " + " ".join(argv[2:]), flush=True)
        return subprocess.call(argv, cwd=ROOT)
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--progress", action="store_true", help="show the rich progress bar during runner rounds")
    ap.add_argument("--sample-report", type=Path, default=None, metavar="DIR",
                    help="render a sample report into DIR instead of measuring throughput")
    args = ap.parse_args()
    if args.sample_report is not None:
        return sample_report(args.sample_report)

    from smallfirst.evaluate.tasks import load_tasks

    proc, url = start_fake()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tf = Path(tmp) / "tasks.jsonl"
            make_tasks(tf, args.tasks)
            tasks: list[object] = list(load_tasks(tf))
            asyncio.run(raw(url, tasks[:200], args.concurrency))  # warm-up
            raws, runs = [], []
            for k in range(args.rounds):
                raws.append(asyncio.run(raw(url, tasks, args.concurrency)))
                runs.append(asyncio.run(runner(url, tasks, Path(tmp) / f"run{k}", args.concurrency, args.progress)))
            t0 = time.perf_counter()
            skipped = asyncio.run(resume(url, tasks, Path(tmp) / "run0"))
            resume_s = time.perf_counter() - t0
    finally:
        proc.kill()
        proc.wait()

    n = args.tasks
    raw_wall = statistics.median(w for w, _ in raws)
    run_wall = statistics.median(w for w, _ in runs)
    raw_cpu = statistics.median(c for _, c in raws)
    run_cpu = statistics.median(c for _, c in runs)
    print(f"eval runner vs direct backend calls: {n} tasks, concurrency {args.concurrency}, "
          f"median of {args.rounds} round(s), fake OpenAI upstream in its own process")
    print(f"  raw backend : {n / raw_wall:8.0f} tasks/s   CPU {1000 * raw_cpu / n:.3f} ms/task")
    print(f"  eval runner : {n / run_wall:8.0f} tasks/s   CPU {1000 * run_cpu / n:.3f} ms/task")
    print(f"  overhead    : {1000 * (run_wall - raw_wall) / n:+.3f} ms wall/task, "
          f"{1000 * (run_cpu - raw_cpu) / n:+.3f} ms CPU/task (runner − raw)")
    print(f"  resume      : {skipped} done pairs skipped in {resume_s:.2f} s")
    print("  rounds (raw tasks/s, runner tasks/s): " + ", ".join(
        f"({n / a[0]:.0f}, {n / b[0]:.0f})" for a, b in zip(raws, runs, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
