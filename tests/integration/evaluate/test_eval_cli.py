"""`smallfirst eval` end to end: CLI exit codes, reports, compare, the embedded SmolLM2 as the local tier,
and a run killed mid-way (SIGKILL) that continues where it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from smallfirst.cli.main import main
from smallfirst.evaluate.scorers.jsonfield import schema_errors
from smallfirst.routing.outcomes import OutcomeTable, read_outcomes
from tests.fakes import Fault
from tests.helpers.evalrun import Knows, write_tasks

ROOT = Path(__file__).resolve().parents[3]
LABELS = ["positive", "negative"]
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def toml(tmp_path: Path, local: str, frontier_url: str | None = None) -> Path:
    text = f'[residency]\nenabled = false\n\n[[tiers]]\nname = "local"\n[[tiers.endpoints]]\n{local}\n'
    if frontier_url:
        text += ('\n[[tiers]]\nname = "frontier"\n[[tiers.endpoints]]\nbackend = "openai_compat"\n'
                 f'model = "gpt-fake"\nbase_url = "{frontier_url}"\nlocation = "us"\n'
                 "price_input_per_mtok = 2.5\nprice_output_per_mtok = 10.0\n")
    p = tmp_path / "smallfirst.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_malformed_task_file_exits_1_naming_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tf = tmp_path / "tasks.jsonl"
    tf.write_text('{"prompt": "ok", "expected": "x"}\n{"prompt": "no answer key", "expected": "y", "scorer": "bleu"}\n')
    cfg = toml(tmp_path, 'backend = "fake"\nmodel = "echo"')
    assert main(["eval", str(tf), "-c", str(cfg), "-o", str(tmp_path / "r"), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("smallfirst: error: ") and "line 2: unknown scorer 'bleu'" in err
    assert err.count("\n") == 1 and not (tmp_path / "r").exists()


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval"]) == 2  # a usage error
    assert "exactly one" in capsys.readouterr().err
    assert main(["eval", "--report", str(tmp_path)]) == 1
    assert "not an eval run" in capsys.readouterr().err


def test_cli_run_report_and_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tasks = [{"id": f"t{i}", "type": "classify", "prompt": f"review {i}", "expected": LABELS[i % 2]}
             for i in range(6)]  # no label contract: the local fake answers its reply, not a constrained label
    tf = write_tasks(tmp_path / "tasks.jsonl", tasks)
    with Knows({f"review {i}": LABELS[i % 2] for i in range(6)}).in_thread() as srv:
        cfg = toml(tmp_path, 'backend = "fake"\nmodel = "echo?reply=positive"', srv.base_url)
        assert main(["eval", str(tf), "-c", str(cfg), "-o", str(tmp_path / "a"), "--concurrency", "4"]) == 0
    out = capsys.readouterr().out
    assert "report:" in out and "recommendation per task type" in out and "classify" in out
    assert "Routing by task type would give" in out
    page = (tmp_path / "a" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3
    assert {p.name for p in (tmp_path / "a" / "plots").iterdir()} == {"tiers.png", "types.png", "routing.png"}
    table = OutcomeTable.from_rows(read_outcomes(tmp_path / "a" / "outcomes.jsonl"))
    assert table.tiers == ("local", "frontier") and table.scores[:, 1].mean() == 1.0
    assert table.scores[:, 0].mean() == 0.5

    cfg_b = toml(tmp_path, 'backend = "fake"\nmodel = "echo?reply=negative"')
    assert main(["eval", str(tf), "-c", str(cfg_b), "-o", str(tmp_path / "b"), "-q"]) == 0
    capsys.readouterr()
    assert main(["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "b"), "--min-delta", "-0.01"]) == 0
    out = capsys.readouterr().out
    assert "B wins 3, loses 3, ties 0" in out
    assert main(["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "b"), "--target-a", "frontier",
                 "--min-delta", "0"]) == 1
    assert "gate: B fails" in capsys.readouterr().out
    html = tmp_path / "elsewhere" / "r.html"
    assert main(["eval", "--report", str(tmp_path / "a"), "--html", str(html), "-q"]) == 0
    assert html.is_file() and (html.parent / "plots" / "routing.png").is_file()


@pytest.mark.slow
def test_embedded_smollm2_local_tier_and_fake_frontier(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    tasks: list[dict[str, Any]] = [
        {"id": "sent", "type": "classify", "prompt": "Is this review positive or negative? 'I loved it.' "
         "Answer with one word.", "expected": "positive", "contract": {"labels": LABELS}},
        {"id": "sum", "type": "math", "prompt": "What is 2 + 2? Answer with the number.", "expected": 4},
        {"id": "json", "type": "extract", "prompt": "Give the name in JSON: Alice is 30.",
         "expected": {"name": "Alice"}, "contract": {"schema": SCHEMA}},
    ]
    tf = write_tasks(tmp_path / "tasks.jsonl", tasks)
    answers = {tasks[0]["prompt"]: "positive", tasks[1]["prompt"]: "#### 4"}
    with Knows(answers).in_thread() as srv:
        cfg = toml(tmp_path, 'backend = "embedded"\nn_ctx = 512', srv.base_url)
        assert main(["eval", str(tf), "-c", str(cfg), "-o", str(tmp_path / "r"), "-q", "--max-tokens", "12"]) == 0
    rows = [json.loads(x) for x in (tmp_path / "r" / "results.jsonl").read_text().splitlines()]
    local = {r["task_id"]: r for r in rows if r["tier"] == "local"}
    front = {r["task_id"]: r for r in rows if r["tier"] == "frontier"}
    assert len(local) == len(front) == 3 and all("error" not in r for r in rows)
    assert all(0 < r["confidence"] <= 1 for r in local.values())  # real llama.cpp log-probabilities
    assert all(r["completion_tokens"] <= 12 and r["cost_usd"] == 0 for r in local.values())
    got = json.loads(local["json"]["answer"])  # grammar-constrained JSON from the schema contract
    assert schema_errors(SCHEMA, got) == []
    assert local["json"]["score"] == (1.0 if got["name"].strip().lower() == "alice" else 0.0)
    assert [front[k]["score"] for k in ("sent", "sum", "json")] == [1.0, 1.0, 0.0]  # the fake's JSON says "x"
    assert all(r["cost_usd"] > 0 for r in front.values())
    outs = read_outcomes(tmp_path / "r" / "outcomes.jsonl")
    assert {(o.prompt_id, o.tier) for o in outs} == {(t["id"], tier) for t in tasks for tier in ("local", "frontier")}
    assert (tmp_path / "r" / "report.html").stat().st_size > 10_000


@pytest.mark.slow
def test_killed_process_continues_where_it_stopped(tmp_path: Path) -> None:
    n = 24
    tasks = [{"id": f"q{i}", "prompt": f"question {i}?", "expected": f"answer {i}", "type": "knowledge"}
             for i in range(n)]
    tf = write_tasks(tmp_path / "tasks.jsonl", tasks)
    with Knows({f"question {i}?": f"answer {i}" for i in range(n)}).in_thread() as srv:
        srv.inject(Fault(delay_s=0.15, times=0))
        cfg = toml(tmp_path, 'backend = "fake"\nmodel = "echo?reply=answer 3&latency_ms=150"', srv.base_url)
        argv = [sys.executable, "-m", "smallfirst.cli.main", "eval", str(tf), "-c", str(cfg), "-o",
                str(tmp_path / "r"), "-q", "--concurrency", "2"]
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        results = tmp_path / "r" / "results.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not results.exists() or results.read_text().count("\n") < 8):
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        first = [json.loads(x) for x in results.read_text().splitlines() if x.strip()]
        assert 8 <= len(first) < 2 * n
        srv.clear_faults()
        cfg.write_text(cfg.read_text() + 'headers = { "X-Eval-Run" = "2" }\n')  # tells the rerun's requests apart
        assert main(["eval", str(tf), "-c", str(cfg), "-o", str(tmp_path / "r"), "-q", "--concurrency", "4"]) == 0
        asked = srv.prompts_seen("2")
    done_front = {r["task_id"] for r in first if r["tier"] == "frontier"}
    assert sorted(asked) == sorted(f"question {i}?" for i in range(n) if f"q{i}" not in done_front)
    rows = [json.loads(x) for x in results.read_text().splitlines()]
    pairs = [(r["task_id"], r["tier"]) for r in rows]
    assert len(pairs) == len(set(pairs)) == 2 * n
    assert len(read_outcomes(tmp_path / "r" / "outcomes.jsonl")) == 2 * n
