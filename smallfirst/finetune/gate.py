"""``smallfirst finetune gate``: base vs tuned on the held-out split — promote only on a margin.

Both models are served exactly as they would be in production — llama.cpp in-process (the embedded
backend), the base GGUF alone and with the adapter GGUF — and answer the held-out prompts (the
``heldout.tasks.jsonl`` the export wrote) through ``smallfirst eval``'s runner and scorers. The two
targets are then compared task by task with :func:`smallfirst.evaluate.compare.compare` (the same
comparison as ``smallfirst eval --compare``). The tuned model is promoted when its mean score beats
the base's by more than ``margin``; ``gate.json`` / ``gate.md`` say which, and why, either way.

A task a model still fails to answer after the runner's retries scores 0 for that model. The eval
folder is keyed by the adapter's digest, so an interrupted gate resumes, and a retrained adapter is
never credited with the old adapter's answers.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from smallfirst.core.errors import BadRequestError
from smallfirst.finetune.dataset import TASKS
from smallfirst.finetune.gguf_info import file_digest, read_base_info

GATE_JSON, GATE_MD = "gate.json", "gate.md"
BASE, TUNED = "base", "tuned"


@dataclass(frozen=True, slots=True)
class GateOptions:
    margin: float = 0.02
    min_coverage: float = 0.9
    max_tokens: int = 64
    n_ctx: int = 1024
    threads: int | None = None
    progress: bool = True


def read_train_report(run_dir: str | Path) -> dict[str, Any]:
    p = Path(run_dir) / "train.json"
    if not p.is_file():
        raise BadRequestError(f"{run_dir} has no train.json", hint="run `smallfirst finetune run` first")
    report: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    if report.get("status") != "done":
        raise BadRequestError(f"the training run in {run_dir} is not finished ({report.get('status')})",
                              hint="rerun `smallfirst finetune run` with the same options to resume it")
    return report


def _tiers(base: Path, adapter: Path, o: GateOptions, n_ctx: int) -> list[Any]:
    from smallfirst.config.schema import EndpointConfig
    from smallfirst.core.tiers import Endpoint, Tier
    from smallfirst.core.types import FREE
    from smallfirst.pipeline import build_backend

    def tier(name: str, lora: Path | None) -> Tier:
        cfg = EndpointConfig(backend="embedded", model=name, name=f"embedded:{name}", model_path=str(base),
                             lora_path=str(lora) if lora else None, n_ctx=n_ctx, n_threads=o.threads,
                             breaker_failures=0)
        return Tier(name, [Endpoint(build_backend(cfg), FREE, True, "local")])

    return [tier(BASE, None), tier(TUNED, adapter)]


async def _evaluate(tiers: list[Any], tasks: list[Any], eval_dir: Path, o: GateOptions, tasks_file: str) -> Any:
    from smallfirst.evaluate.runner import EvalRunner, RunOptions

    options = RunOptions(concurrency=1, local_concurrency=1, retries=1, max_tokens=o.max_tokens, temperature=0.0,
                         logprobs=True, progress=o.progress)
    try:
        return await EvalRunner(tiers, tasks, eval_dir, options, tasks_file=tasks_file).run()
    finally:
        for t in tiers:
            for ep in t.endpoints:
                await ep.backend.aclose()


def decide(c: Any, margin: float, total: int | None = None, min_coverage: float = 0.9) -> tuple[bool, str]:
    """Promote only when the tuned model's mean score beats the base's by more than ``margin``, on at least
    ``min_coverage`` of the ``total`` held-out tasks (a task either model failed to answer is not compared)."""
    lo, hi = c.ci95
    verdict = (f"tuned {c.mean_b:.3f} vs base {c.mean_a:.3f} on {c.n} held-out tasks: Δ {c.mean_delta:+.3f} "
               f"(95% CI {lo:+.3f} … {hi:+.3f}; wins {c.wins}, losses {c.losses}, ties {c.ties})")
    if total and c.n < min_coverage * total:
        return False, (f"KEEP THE BASE — only {c.n} of {total} held-out tasks were answered by both models "
                       f"(need {min_coverage:.0%}); rerun the gate to retry the failed ones. {verdict}")
    if c.passes(margin):
        return True, f"PROMOTE — {verdict} beats the margin {margin:+.3f}"
    return False, f"KEEP THE BASE — {verdict} does not beat the margin {margin:+.3f}"


def gate(run_dir: str | Path, o: GateOptions = GateOptions()) -> dict[str, Any]:
    """Evaluate base and tuned on the held-out tasks, compare, decide; writes gate.json and gate.md."""
    from smallfirst.evaluate.compare import compare
    from smallfirst.evaluate.runfile import RunDir
    from smallfirst.evaluate.tasks import load_tasks

    run = Path(run_dir)
    report = read_train_report(run)
    base = Path(report["base"]["path"])
    adapter = run / report["adapter_gguf"]
    tasks_file = Path(report["config"]["data"]) / TASKS
    if not adapter.is_file():
        raise BadRequestError(f"{adapter} is missing", hint="rerun `smallfirst finetune run` to write it")
    if not tasks_file.is_file() or not tasks_file.read_text(encoding="utf-8").strip():
        raise BadRequestError(f"no held-out tasks in {tasks_file}",
                              hint="export with a held-out share (--heldout 0.2) and at least two prompts")
    tasks = load_tasks(tasks_file)
    digest = file_digest(adapter)[:12]
    eval_dir = run / "gate" / f"eval-{digest}"
    t0 = time.perf_counter()
    n_ctx = min(o.n_ctx, read_base_info(base).context)  # beyond the trained context llama.cpp only warns
    stats = asyncio.run(_evaluate(_tiers(base, adapter, o, n_ctx), tasks, eval_dir, o, str(tasks_file)))
    loaded = RunDir(eval_dir).load()
    failed = {t: sum(1 for (_, k), r in loaded.rows.items() if k.startswith(t + "/") and not r.final)
              for t in (BASE, TUNED)}
    # a task a model still failed to answer after the retries counts as a wrong answer (score 0) for it
    scored = replace(loaded, rows={k: r if r.final else replace(r, final=True) for k, r in loaded.rows.items()})
    c = compare(scored, scored, target_a=BASE, target_b=TUNED)
    promote, reason = decide(c, o.margin, len(tasks), o.min_coverage)
    result = {"promote": promote, "reason": reason, "margin": o.margin, "base": str(base), "adapter": str(adapter),
              "adapter_sha256_12": digest, "tasks_file": str(tasks_file), "eval_dir": str(eval_dir),
              "heldout_tasks": len(tasks), "unanswered": failed,
              "answers": {"reused": stats.skipped, "generated": stats.ran},
              "seconds": time.perf_counter() - t0, "created": time.time(), "comparison": c.to_json()}
    (run / GATE_JSON).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (run / GATE_MD).write_text(gate_markdown(result), encoding="utf-8")
    return result


def gate_markdown(g: dict[str, Any]) -> str:
    c = g["comparison"]
    lines = ["# Fine-tune gate", "", f"**{g['reason']}**", "",
             "| | held-out tasks | mean score | wins | losses | ties |", "|---|---:|---:|---:|---:|---:|",
             f"| base | {c['n']} | {c['mean_a']:.3f} | | | |",
             f"| tuned | {c['n']} | {c['mean_b']:.3f} | {c['wins']} | {c['losses']} | {c['ties']} |", "",
             f"Margin: {g['margin']:+.3f}. Base `{g['base']}`; adapter `{g['adapter']}` "
             f"(sha256 {g['adapter_sha256_12']}…). Answers and scores: `{g['eval_dir']}`.",
             f"Held-out tasks: {g['heldout_tasks']}; not answered after retries (scored 0): base "
             f"{g['unanswered'][BASE]}, tuned {g['unanswered'][TUNED]}.",
             f"Answers generated this run: {g['answers']['generated']}; reused from an earlier run of the gate "
             f"on the same adapter: {g['answers']['reused']}.", ""]
    if c.get("by_type"):
        lines += ["| task type | n | base | tuned | Δ |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {k} | {v['n']} | {v['mean_a']:.3f} | {v['mean_b']:.3f} | {v['mean_delta']:+.3f} |"
                  for k, v in c["by_type"].items()]
        lines.append("")
    return "\n".join(lines)
