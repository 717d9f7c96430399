"""`smallfirst eval`: run labelled tasks on every configured tier, report, and compare runs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from smallfirst.cli.errors import UsageError
from smallfirst.evaluate.tasks import MAX_TOKENS


def _report(run_dir: Path, quality_target: float, pass_threshold: float, html: Path | None,
            quiet: bool = False) -> Path:
    from smallfirst.evaluate.report import print_report, write_report
    from smallfirst.evaluate.runfile import load_run
    from smallfirst.evaluate.summary import summarise

    run = load_run(run_dir)
    s = summarise(run, pass_threshold=pass_threshold, quality_target=quality_target)
    if not quiet:
        print_report(s, str(run_dir))
    return write_report(run, s, html)


def _compare(runs: tuple[Path, Path], target_a: str | None, target_b: str | None, min_delta: float | None) -> None:
    from smallfirst.evaluate.compare import compare, print_comparison

    c = compare(runs[0], runs[1], target_a, target_b)
    print_comparison(c)
    if min_delta is not None:
        verdict = "passes" if c.passes(min_delta) else "fails"
        typer.echo(f"gate: B {verdict} (mean Δ {c.mean_delta:+.3f}, required > {min_delta:+.3f})")
        if not c.passes(min_delta):
            raise typer.Exit(1)


def eval_command(
    tasks: Annotated[Path | None, typer.Argument(
        help="task file: JSONL, one task a line (README.md, 'Task files'; e.g. examples/tasks.jsonl)")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="smallfirst.toml path")] = None,
    run: Annotated[Path | None, typer.Option(
        "--run", "-o", help="run folder (default eval-runs/<task file name>); an existing one is resumed")] = None,
    tiers: Annotated[str | None, typer.Option(help="only these tiers, e.g. local,frontier (default: all)")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="requests at once per remote endpoint")] = 8,
    local_concurrency: Annotated[int, typer.Option(
        min=1, help="requests at once per endpoint on this machine (they share its CPU/GPU)")] = 1,
    retries: Annotated[int, typer.Option(min=0, help="retries of retryable upstream errors")] = 3,
    timeout: Annotated[float, typer.Option(min=0.001, help="seconds per try")] = 120.0,
    max_tokens: Annotated[int, typer.Option(min=1, max=MAX_TOKENS, help="answer length limit (a task's request "
                                            "may override)")] = 256,
    judge: Annotated[str | None, typer.Option(help="tier whose model judges tasks scored by 'judge'")] = None,
    no_logprobs: Annotated[bool, typer.Option("--no-logprobs", help="do not ask for token log-probabilities "
                                              "(the embedded model then needs less memory)")] = False,
    quality_target: Annotated[float, typer.Option(min=0.0, max=1.0, help="a tier is recommended for a task type "
                                                  "when within this share of the best tier's score")] = 0.95,
    pass_threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="score that counts as right")] = 0.5,
    html: Annotated[Path | None, typer.Option(help="HTML report path (default <run>/report.html)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar and no tables")] = False,
    compare: Annotated[tuple[Path, Path] | None, typer.Option(
        help="compare two run folders task by task (B against A) instead of running")] = None,
    target_a: Annotated[str | None, typer.Option(help="--compare: target or tier of run A (default cheapest)")] = None,
    target_b: Annotated[str | None, typer.Option(help="--compare: target or tier of run B (default cheapest)")] = None,
    min_delta: Annotated[float | None, typer.Option(
        help="--compare: exit 1 unless B's mean score beats A's by more than this")] = None,
    report: Annotated[Path | None, typer.Option(help="re-render the report of a run folder, without running")] = None,
) -> None:
    """Run your labelled tasks on each configured tier; quality, cost, latency, routing, outcomes."""
    modes = sum(x is not None for x in (tasks, compare, report))
    if modes != 1:
        raise UsageError("give a task file, or --compare RUN_A RUN_B, or --report RUN (exactly one)",
                              hint="e.g. smallfirst eval tasks.jsonl")
    if compare is not None:
        _compare(compare, target_a, target_b, min_delta)
        return
    if report is not None:
        out = _report(report, quality_target, pass_threshold, html, quiet)
        typer.echo(f"report: {out}")
        return
    assert tasks is not None
    from smallfirst.config.loader import DEFAULT_PATH, load
    from smallfirst.evaluate.runner import RunOptions, run_eval
    from smallfirst.evaluate.tasks import load_tasks

    if config is None and Path(DEFAULT_PATH).is_file():
        typer.echo(f"eval: using ./{DEFAULT_PATH} from the current folder (pass -c FILE to use another)", err=True)
    settings = load(config)
    task_list = load_tasks(tasks)
    run_dir = run or Path("eval-runs") / tasks.stem
    options = RunOptions(concurrency=concurrency, local_concurrency=local_concurrency, retries=retries,
                         timeout_s=timeout, max_tokens=max_tokens, logprobs=not no_logprobs, progress=not quiet)
    only = [t.strip() for t in tiers.split(",") if t.strip()] if tiers else None
    try:
        stats = asyncio.run(run_eval(settings, task_list, run_dir, options, only_tiers=only, judge_tier=judge,
                                     tasks_file=str(tasks)))
    except KeyboardInterrupt:
        typer.echo(f"interrupted: finished results are kept in {run_dir}; run the same command to continue",
                   err=True)
        raise typer.Exit(130) from None
    if not quiet:
        typer.echo(f"{stats.ran} ran ({stats.failed} failed), {stats.skipped} already done, in "
                   f"{stats.elapsed_s:.1f} s ({stats.per_s:.1f}/s)")
    out = _report(run_dir, quality_target, pass_threshold, html, quiet)
    typer.echo(f"report: {out}\noutcomes (router training format): {run_dir / 'outcomes.jsonl'}")
    _explain_failures(run_dir)


def _explain_failures(run_dir: Path) -> None:
    """The commonest failure reasons; exit 1 when no task got an answer on any tier."""
    from collections import Counter

    from smallfirst.evaluate.runfile import load_run

    rows = list(load_run(run_dir).rows.values())  # the last try of each task on each target
    failed = [r for r in rows if not r.ok]
    if not failed:
        return
    reasons = Counter(f"{r.tier}: {r.error_message or r.error}" for r in failed)
    typer.echo(f"{len(failed)} of {len(rows)} failed; why:", err=True)
    for reason, n in reasons.most_common(3):
        typer.echo(f"  {n} × {reason}", err=True)
    if len(failed) == len(rows):
        typer.echo("smallfirst: error: every task failed on every tier (reasons above)", err=True)
        raise typer.Exit(1)
