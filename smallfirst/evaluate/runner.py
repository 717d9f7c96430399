"""Run every task on every selected tier's model endpoints, through the gateway's own backends.

* Requests are built like a client's (:func:`smallfirst.wire.openai_parse.to_request`): the task's
  messages and ``max_tokens``/``temperature`` from the options; then as the cascade prepares them
  for a task contract: ``logprobs`` where the backend reports them (``top_logprobs`` for a label
  set), and label/schema-constrained output on local tiers that support it. The task's own
  ``request`` fields win. Confidence is the cascade's (see :mod:`smallfirst.evaluate.confidence`).
* Each endpoint gets at most ``concurrency`` requests at once (``local_concurrency`` for endpoints
  on this machine: parallel local requests share the CPU/GPU and distort each other's latency),
  each try has a timeout, and retryable errors are retried with exponential backoff.
* Every result is appended to the run folder as it finishes; a restarted run skips the pairs that
  are done (see :mod:`smallfirst.evaluate.runfile`), so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

from smallfirst.cascade.contract import Contract
from smallfirst.core.errors import BadRequestError
from smallfirst.core.progress import Steps
from smallfirst.core.suggest import hint_for
from smallfirst.core.tiers import Endpoint, Tier
from smallfirst.core.types import ChatRequest
from smallfirst.evaluate.calls import Caller, CallPolicy
from smallfirst.evaluate.confidence import answer_confidence, cascade_contract
from smallfirst.evaluate.runfile import ResultRow, RunDir, TargetInfo
from smallfirst.evaluate.scorers import EvalScorer, JudgeScorer, build_scorers
from smallfirst.evaluate.scorers.judge import JudgeError
from smallfirst.evaluate.tasks import JUDGE_SCORERS, Task


@dataclass(frozen=True, slots=True)
class RunOptions:
    concurrency: int = 8
    local_concurrency: int = 1
    retries: int = 3
    backoff_s: float = 0.5
    timeout_s: float = 120.0
    max_tokens: int = 256
    temperature: float = 0.0
    logprobs: bool = True
    progress: bool = True


@dataclass(frozen=True, slots=True)
class Target:
    tier: Tier
    endpoint: Endpoint

    @property
    def key(self) -> str:
        return f"{self.tier.name}/{self.endpoint.backend.name}"

    def info(self) -> TargetInfo:
        p = self.endpoint.price
        return TargetInfo(key=self.key, tier=self.tier.name, model=self.endpoint.backend.model,
                          endpoint=self.endpoint.backend.name, local=self.endpoint.is_local,
                          price_input_per_mtok=p.input_per_mtok if p else None,
                          price_output_per_mtok=p.output_per_mtok if p else None)


@dataclass(frozen=True, slots=True)
class RunStats:
    pairs: int  # (task, target) pairs in this run
    skipped: int  # already done before this start
    ran: int  # finished this time (answered or failed)
    failed: int  # of those, failed (after retries)
    elapsed_s: float

    @property
    def per_s(self) -> float:
        return self.ran / self.elapsed_s if self.elapsed_s > 0 else 0.0


def select_targets(tiers: Sequence[Tier], only: Sequence[str] | None = None) -> list[Target]:
    names = [t.name for t in tiers]
    if only:
        unknown = [n for n in only if n not in names]
        if unknown:
            raise BadRequestError(f"unknown tier(s) {', '.join(unknown)}",
                                  hint=hint_for(unknown, names, f"configured: {', '.join(names)}"))
    return [Target(t, ep) for t in tiers if not only or t.name in only for ep in t.endpoints]


def build_request(task: Task, ep: Endpoint, options: RunOptions, contract: Contract | None = None) -> ChatRequest:
    """The request a client would send, prepared as the cascade prepares it (see the module docstring)."""
    from smallfirst.cascade.checker import LABEL_TOP_LOGPROBS, constrained_format
    from smallfirst.wire.openai_parse import to_request

    caps = ep.capabilities
    body: dict[str, Any] = {"model": ep.backend.model, "messages": task.messages, "max_tokens": options.max_tokens,
                            "temperature": options.temperature}
    if options.logprobs and caps.logprobs:
        body["logprobs"] = True
        if contract is not None and contract.confidence_method == "label":
            body["top_logprobs"] = LABEL_TOP_LOGPROBS
    if contract is not None and ep.is_local and caps.json_schema and (fmt := constrained_format(contract)):
        body["response_format"] = fmt
    body.update(task.request)
    return to_request(body)


class _Bars:
    """A rich progress display: one bar per target and a total (nothing when disabled)."""

    def __init__(self, enabled: bool) -> None:
        self.progress: Any = None
        self.ids: dict[str, Any] = {}
        self.lines: Steps | None = None  # not on a terminal: a line about every 5 % of the total
        if enabled and not sys.stderr.isatty():
            self.lines = Steps(tty=False)
        elif enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                                     TimeRemainingColumn())

    def add(self, key: str, label: str, total: int) -> None:
        if self.lines is not None and key == "*":
            self.ids[key] = self.lines.add(f"eval {label}", total)
        if self.progress is not None:
            self.ids[key] = self.progress.add_task(label, total=total, rate="")

    def advance(self, key: str, elapsed: float, done: int) -> None:
        if self.lines is not None:
            self.lines.advance(self.ids["*"])
        if self.progress is not None:
            rate = f"{done / elapsed:.1f}/s" if elapsed > 0 else ""
            self.progress.advance(self.ids[key])
            self.progress.advance(self.ids["*"])
            self.progress.update(self.ids["*"], rate=rate)

    def __enter__(self) -> _Bars:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


class EvalRunner:
    """Runs ``tasks`` on ``targets`` into ``run_dir``; ``on_row`` sees each row after it is written."""

    def __init__(self, tiers: Sequence[Tier], tasks: Sequence[Task], run_dir: RunDir | str | Path,
                 options: RunOptions = RunOptions(), *, only_tiers: Sequence[str] | None = None,
                 judge_tier: str | None = None, tasks_file: str = "",
                 on_row: Callable[[ResultRow], None] | None = None) -> None:
        self.tiers = list(tiers)
        self.tasks = list(tasks)
        self.run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
        self.options = options
        self.targets = select_targets(self.tiers, only_tiers)
        if not self.targets:
            raise BadRequestError("no tier to evaluate", hint="configure tiers in smallfirst.toml")
        self.tasks_file = tasks_file
        self.on_row = on_row
        self.caller = Caller(CallPolicy(retries=options.retries, backoff_s=options.backoff_s,
                                        timeout_s=options.timeout_s), self._limit)
        self.scorers = self._scorers(judge_tier)
        self.contracts = {t.id: cascade_contract(t) for t in self.tasks}

    def _limit(self, ep: Endpoint) -> int:
        return self.options.local_concurrency if ep.is_local else self.options.concurrency

    def _scorers(self, judge_tier: str | None) -> dict[str, EvalScorer]:
        judge = pairwise = None
        if judge_tier is not None:
            tier = next((t for t in self.tiers if t.name == judge_tier), None)
            if tier is None:
                tier_names = [t.name for t in self.tiers]
                raise BadRequestError(f"judge tier {judge_tier!r} is not configured",
                                      hint=hint_for([judge_tier], tier_names,
                                                    f"configured tiers: {', '.join(tier_names)}"))
            judge = JudgeScorer(tier, "rubric", self.caller)
            pairwise = JudgeScorer(tier, "pairwise", self.caller)
        names = {t.scorer for t in self.tasks}
        needs = [t for t in self.tasks if t.scorer in JUDGE_SCORERS]
        if needs and judge is None:
            lines = ", ".join(str(t.line) for t in needs[:8]) + (" …" if len(needs) > 8 else "")
            raise BadRequestError(f"{len(needs)} task(s) are scored by an LLM judge (lines {lines})",
                                  hint="pass --judge TIER, or give those tasks an 'expected' answer")
        return build_scorers(names, judge, pairwise)

    async def run(self) -> RunStats:
        rd = self.run_dir
        rd.prepare(self.tasks, [t.name for t in self.tiers], [t.info() for t in self.targets],
                   {"tasks_file": self.tasks_file, "dataset": Path(self.tasks_file).stem or None,
                    "options": asdict(self.options)})
        current = {t.id: t.hash for t in self.tasks}
        done = {(r.task_id, r.target) for r in rd.read_rows() if r.final and current.get(r.task_id) == r.task_hash}
        jobs = {tg.key: deque(t for t in self.tasks if (t.id, tg.key) not in done) for tg in self.targets}
        pairs = len(self.tasks) * len(self.targets)
        todo = sum(len(q) for q in jobs.values())
        counts = {"ran": 0, "failed": 0}
        t0 = time.perf_counter()
        with rd.appender() as fh, _Bars(self.options.progress and todo > 0) as bars:
            bars.add("*", "all", todo)
            for tg in self.targets:
                bars.add(tg.key, tg.key, len(jobs[tg.key]))
            async with asyncio.TaskGroup() as group:
                for tg in self.targets:
                    for _ in range(min(self._limit(tg.endpoint), len(jobs[tg.key]))):
                        group.create_task(self._worker(tg, jobs[tg.key], fh, bars, counts, t0))
        stats = RunStats(pairs, pairs - todo, counts["ran"], counts["failed"], time.perf_counter() - t0)
        from smallfirst.routing.outcomes import write_outcomes

        write_outcomes(rd.outcomes_path, rd.load().outcomes())
        return stats

    async def _worker(self, tg: Target, queue: deque[Task], fh: IO[str], bars: _Bars, counts: dict[str, int],
                      t0: float) -> None:
        while queue:
            task = queue.popleft()
            row = await self.one(task, tg)
            self.run_dir.append(fh, row)
            counts["ran"] += 1
            counts["failed"] += 0 if row.ok else 1
            bars.advance(tg.key, time.perf_counter() - t0, counts["ran"])
            if self.on_row is not None:
                self.on_row(row)

    async def one(self, task: Task, tg: Target) -> ResultRow:
        """Answer and score one task on one target (never raises for an upstream failure)."""
        base = ResultRow(task_id=task.id, task_hash=task.hash, target=tg.key, tier=tg.tier.name,
                         model=tg.endpoint.backend.model, scorer=task.scorer)
        contract = self.contracts.get(task.id)
        res = await self.caller.call(tg.endpoint, build_request(task, tg.endpoint, self.options, contract))
        if res.response is None:
            err = res.error
            return replace(base, error=err.code if err else "error", error_message=err.one_line() if err else None,
                           final=res.final, tries=res.tries, latency_ms=res.latency_ms)
        resp = res.response
        measured = replace(base, answer=resp.content, latency_ms=res.latency_ms,
                           prompt_tokens=resp.usage.prompt_tokens, completion_tokens=resp.usage.completion_tokens,
                           cost_usd=res.cost_usd,
                           confidence=answer_confidence(contract, resp.logprobs, resp.content),
                           finish_reason=resp.finish_reason, tries=res.tries)
        try:
            scored = await self.scorers[task.scorer].ascore(task.view(), resp.content)
        except JudgeError as err:
            return replace(measured, error=err.code, error_message=err.one_line(), final=False)
        return replace(measured, score=scored.score, detail=scored.detail, judge_cost_usd=scored.cost_usd)


async def run_eval(settings: Any, tasks: Sequence[Task], run_dir: str | Path, options: RunOptions = RunOptions(),
                   *, only_tiers: Sequence[str] | None = None, judge_tier: str | None = None,
                   tasks_file: str = "") -> RunStats:
    """Build the configured tiers (the gateway's backends), run, and close the backends."""
    from smallfirst.pipeline import build_tiers

    tiers = build_tiers(settings)
    try:
        runner = EvalRunner(tiers, tasks, run_dir, options, only_tiers=only_tiers, judge_tier=judge_tier,
                            tasks_file=tasks_file)
        return await runner.run()
    finally:
        for t in tiers:
            for ep in t.endpoints:
                await ep.backend.aclose()
