"""The runner against a protocol-faithful OpenAI-compatible server on 127.0.0.1: scoring, cost,
log-probabilities, concurrency limits, retries, timeouts, interruption and resume, and the judge."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from smallfirst.evaluate.runfile import ResultRow, RunDir, load_run
from smallfirst.evaluate.runner import EvalRunner, RunOptions
from smallfirst.evaluate.scorers.judge import JudgeScorer
from smallfirst.evaluate.tasks import load_tasks
from smallfirst.pipeline import build_tiers
from smallfirst.routing.outcomes import read_outcomes
from tests.fakes import FakeOpenAI, Fault
from tests.helpers.evalrun import Knows, fake_local, remote, run, settings, write_tasks

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def qa_tasks(n: int) -> list[dict[str, Any]]:
    return [{"id": f"q{i}", "type": "knowledge", "prompt": f"question {i}?", "expected": f"answer {i}"}
            for i in range(n)]


def answers(n: int) -> dict[str, str]:
    return {f"question {i}?": f"answer {i}" for i in range(n)}


def rows_of(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines() if x.strip()]


def test_run_through_the_openai_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = [*qa_tasks(3), {"id": "x", "type": "extract", "prompt": "Name in: Bob was here",
                            "expected": {"name": "Bob"}, "contract": {"schema": SCHEMA}},
             {"id": "c", "prompt": "Spam? Win a prize now", "expected": "spam",
              "contract": {"labels": ["spam", "ham"]}}]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-eval-test")
    known = {**answers(3), "Name in: Bob was here": 'Sure: {"name": "Bob"}', "Spam? Win a prize now": "spam"}
    with Knows(known, api_key="sk-eval-test").in_thread() as srv:
        cfg = settings(("local", fake_local("answer 0")), ("frontier", remote(srv.base_url, backend="openai")))
        stats = run(cfg, write_tasks(tmp_path / "t.jsonl", tasks), tmp_path / "r",
                    RunOptions(progress=False, max_tokens=32))
        bodies = [r.body for r in srv.requests]
    assert (stats.pairs, stats.ran, stats.failed, stats.skipped) == (10, 10, 0, 0)
    assert all(b["max_tokens"] == 32 and b["temperature"] == 0 for b in bodies)
    assert all(b.get("logprobs") is True for b in bodies)  # the OpenAI preset reports logprobs
    assert [b.get("top_logprobs") for b in bodies].count(20) == 1  # the label task: the cascade's label confidence
    assert all("response_format" not in b for b in bodies)  # like the cascade: constrained decoding is local-only
    r = load_run(tmp_path / "r")
    front = {k[0]: v for k, v in r.rows.items() if v.tier == "frontier"}
    assert [front[k].score for k in ("q0", "q1", "q2", "x", "c")] == [1.0] * 5
    q0 = front["q0"]
    assert q0.cost_usd == pytest.approx((q0.prompt_tokens * 2.0 + q0.completion_tokens * 8.0) / 1e6)
    assert q0.confidence == pytest.approx(0.951, abs=1e-3) and q0.latency_ms > 0 and q0.tries == 1
    local = {k[0]: v for k, v in r.rows.items() if v.tier == "local"}
    assert local["q0"].score == 1.0 and local["q1"].score == pytest.approx(0.5)  # token F1 "answer 0" vs "answer 1"
    # the local fake backend was asked for constrained output: a schema instance, the first allowed label
    assert (local["x"].answer, local["x"].score) == ('{"name":"text"}', 0.0)
    assert (local["c"].answer, local["c"].score) == ('"spam"', 1.0)
    outs = read_outcomes(tmp_path / "r" / "outcomes.jsonl")
    assert len(outs) == 10 and {o.prompt_id for o in outs} == {"q0", "q1", "q2", "x", "c"}


def test_concurrency_limit_per_endpoint(tmp_path: Path) -> None:
    with Knows(answers(12)).in_thread() as srv:
        srv.inject(Fault(delay_s=0.05, times=0))
        run(settings(("frontier", remote(srv.base_url))), write_tasks(tmp_path / "t.jsonl", qa_tasks(12)),
            tmp_path / "r", RunOptions(progress=False, concurrency=3))
        assert srv.max_in_flight == 3
        assert "logprobs" not in srv.requests[0].body  # the generic preset does not promise logprobs
    assert all(r.get("confidence") is None for r in rows_of(tmp_path / "r"))


def test_retries_backoff_and_final_errors(tmp_path: Path) -> None:
    tf = write_tasks(tmp_path / "t.jsonl", qa_tasks(3))
    opts = RunOptions(progress=False, concurrency=1, retries=2, backoff_s=0.01)
    with Knows(answers(3)).in_thread() as srv:
        cfg = settings(("frontier", remote(srv.base_url)))
        # faults are served in request order: q0 gets two 429s then an answer (an empty Fault), q1 a 400,
        # q2 three 503s
        srv.inject(Fault(status=429, retry_after="0", times=2), Fault(), Fault(status=400, message="bad input"),
                   Fault(status=503, times=3))
        stats = run(cfg, tf, tmp_path / "r", opts)
        got = {r["task_id"]: r for r in rows_of(tmp_path / "r")}
        assert stats.ran == 3 and stats.failed == 2
        assert got["q0"]["tries"] == 3 and got["q0"]["score"] == 1.0  # two 429s, then an answer
        assert got["q1"]["error"] == "upstream_bad_request" and got["q1"]["final"] is True  # not retried
        assert got["q1"]["tries"] == 1
        assert got["q2"]["error"] == "upstream_unavailable" and got["q2"]["final"] is False  # 3 tries, all 503
        assert got["q2"]["tries"] == 3
        outs = {o.prompt_id: o.score for o in read_outcomes(tmp_path / "r" / "outcomes.jsonl")}
        assert outs == {"q0": 1.0, "q1": 0.0}  # a final failure counts 0; a transient one is not an outcome
        before = len(srv.requests)
        again = run(cfg, tf, tmp_path / "r", opts)  # the upstream is healthy now
        assert (again.skipped, again.ran, again.failed) == (2, 1, 0)
        assert srv.prompts_seen()[before:] == ["question 2?"]
    assert {o.prompt_id: o.score for o in read_outcomes(tmp_path / "r" / "outcomes.jsonl")} == {
        "q0": 1.0, "q1": 0.0, "q2": 1.0}


def test_timeout_per_try(tmp_path: Path) -> None:
    with Knows(answers(1)).in_thread() as srv:
        srv.inject(Fault(delay_s=5.0))
        run(settings(("frontier", remote(srv.base_url))), write_tasks(tmp_path / "t.jsonl", qa_tasks(1)),
            tmp_path / "r", RunOptions(progress=False, timeout_s=0.5, retries=1, backoff_s=0.01))
    [row] = rows_of(tmp_path / "r")
    assert row["score"] == 1.0 and row["tries"] == 2  # the first try timed out, the retry answered


def test_interrupted_run_resumes_without_recomputing(tmp_path: Path) -> None:
    n = 20
    tf = write_tasks(tmp_path / "t.jsonl", qa_tasks(n))
    with Knows(answers(n)).in_thread() as srv:
        srv.inject(Fault(delay_s=0.02, times=0))
        cfg = settings(("local", fake_local("answer 1")), ("frontier", remote(srv.base_url)))

        async def interrupted() -> None:
            me = asyncio.current_task()
            assert me is not None
            seen: list[ResultRow] = []

            def on_row(row: ResultRow) -> None:
                seen.append(row)
                if sum(r.tier == "frontier" for r in seen) == 7:
                    me.cancel()  # what Ctrl-C does to asyncio.run's main task

            tiers = build_tiers(cfg)
            runner = EvalRunner(tiers, load_tasks(tf), tmp_path / "r",
                                RunOptions(progress=False, concurrency=4), on_row=on_row)
            try:
                await runner.run()
            finally:
                for t in tiers:
                    for ep in t.endpoints:
                        await ep.backend.aclose()

        with pytest.raises(asyncio.CancelledError):
            asyncio.run(interrupted())
        first = rows_of(tmp_path / "r")
        done_front = {r["task_id"] for r in first if r["tier"] == "frontier"}
        assert 7 <= len(done_front) < n
        cfg2 = settings(("local", fake_local("answer 1")),
                        ("frontier", {**remote(srv.base_url), "headers": {"X-Eval-Run": "2"}}))
        stats = run(cfg2, tf, tmp_path / "r", RunOptions(progress=False, concurrency=4))
        asked = srv.prompts_seen("2")
    assert stats.skipped == len(first)
    assert sorted(asked) == sorted(f"question {i[1:]}?" for i in {f"q{k}" for k in range(n)} - done_front)
    rows = rows_of(tmp_path / "r")
    pairs = [(r["task_id"], r["target"]) for r in rows]
    assert len(pairs) == len(set(pairs)) == 2 * n  # nothing lost, nothing twice
    assert (tmp_path / "r" / "outcomes.jsonl").read_text().count("\n") == 2 * n


def test_cut_off_last_line_is_repaired(tmp_path: Path) -> None:
    tf = write_tasks(tmp_path / "t.jsonl", qa_tasks(4))
    cfg = settings(("local", fake_local("answer 1")))
    run(cfg, tf, tmp_path / "r")
    results = tmp_path / "r" / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    results.write_text("".join(lines[:2]) + lines[2][:25])  # killed while writing the third row
    assert len(RunDir(tmp_path / "r").read_rows()) == 2
    stats = run(cfg, tf, tmp_path / "r")
    assert (stats.skipped, stats.ran) == (2, 2)
    assert len(rows_of(tmp_path / "r")) == 4


def test_changed_task_is_rerun(tmp_path: Path) -> None:
    cfg = settings(("local", fake_local("answer 1")))
    tasks = qa_tasks(3)
    run(cfg, write_tasks(tmp_path / "t.jsonl", tasks), tmp_path / "r")
    tasks[0]["expected"] = "answer 1"
    stats = run(cfg, write_tasks(tmp_path / "t.jsonl", tasks), tmp_path / "r")
    assert (stats.skipped, stats.ran) == (2, 1)
    assert load_run(tmp_path / "r").rows[("q0", "local/fake:echo?reply=answer 1")].score == 1.0


def test_llm_judge_rubric_and_pairwise(tmp_path: Path) -> None:
    tasks = [{"id": "j1", "prompt": "Write a haiku about rain", "scorer": "judge"},
             {"id": "j2", "prompt": "Capital of France?", "expected": "Paris is the capital.",
              "scorer": "judge_pairwise"}]
    with Knows({}, reply=None).in_thread() as judge_srv:
        judge_srv.answers = {}
        cfg = settings(("local", fake_local("Paris")), ("judge", remote(judge_srv.base_url, price=(1.0, 1.0))))
        # rubric: the judge answers "Rating: 8"; pairwise: it always says "A" → one win, one loss → 0.5
        judge_srv.answer = lambda last_user, max_tokens, tools=None: _verdict(last_user)  # type: ignore[method-assign]
        run(cfg, write_tasks(tmp_path / "t.jsonl", tasks), tmp_path / "r", only_tiers=["local"], judge_tier="judge")
        judged = [r.body["messages"][-1]["content"] for r in judge_srv.requests]
    rows = {r["task_id"]: r for r in rows_of(tmp_path / "r")}
    assert rows["j1"]["score"] == pytest.approx(7 / 9) and rows["j1"]["detail"] == "rating 8"
    assert rows["j2"]["score"] == 0.5 and "A / A" in rows["j2"]["detail"]
    assert all(r["judge_cost_usd"] > 0 and r["cost_usd"] == 0 for r in rows.values())
    assert len(judged) == 3 and "RESPONSE:\nParis" in judged[0]
    s_run = load_run(tmp_path / "r")
    assert [t.tier for t in s_run.targets] == ["local"]  # the judge tier is not evaluated


def _verdict(prompt: str) -> Any:
    from tests.fakes.base import Answer

    return Answer("Rating: 8" if "RESPONSE:" in prompt else "A")


def test_judge_sync_form_and_missing_judge(tmp_path: Path) -> None:
    from smallfirst.core.errors import BadRequestError

    with FakeOpenAI(reply="TIE").in_thread() as srv:
        [tier] = build_tiers(settings(("judge", remote(srv.base_url))))
        j = JudgeScorer(tier, "pairwise")
        assert j.score({"prompt": "q", "expected": "ref"}, "answer") == 0.5
    with pytest.raises(BadRequestError, match="scored by an LLM judge"):
        run(settings(("local", fake_local("x"))), write_tasks(tmp_path / "t.jsonl", [{"prompt": "hi"}]),
            tmp_path / "r")
