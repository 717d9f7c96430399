"""`smallfirst finetune export | run | gate | deploy | rollback | recalibrate` — the QLoRA flywheel."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from smallfirst.cli.app import new_app
from smallfirst.core.errors import BadRequestError

app = new_app(no_args_is_help=True, help="Turn escalations into training data, QLoRA-tune the local model, "
                                             "gate it on held-out tasks, deploy it, recalibrate the router.")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="smallfirst.toml path")]
BaseOpt = Annotated[Path | None, typer.Option(
    "--base", help="base model GGUF (default: the local tier's embedded model, else SmolLM2-135M)")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")]


def _settings(config: Path | None) -> Any:
    from smallfirst.config.loader import load

    return load(config)


def _split(values: list[str] | None) -> frozenset[str]:
    return frozenset(v.strip() for item in values or [] for v in item.split(",") if v.strip())


@app.command()
def export(
    config: ConfigOpt = None,
    log: Annotated[Path | None, typer.Option(help="request log (SQLite) instead of the configured one")] = None,
    tasks: Annotated[Path | None, typer.Option(
        help="export a labelled task file (the `smallfirst eval` format) instead of the request log")] = None,
    base: BaseOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="dataset folder")] = Path("finetune/data"),
    heldout: Annotated[float, typer.Option(min=0.0, max=0.9, help="share of prompts held out for the gate")] = 0.2,
    seed: Annotated[int, typer.Option(help="split seed")] = 0,
    task_type: Annotated[list[str] | None, typer.Option(
        "--task-type", help="only these task types (repeat or comma-separate), e.g. those opted in to tuning")]
        = None,
    include_routed: Annotated[bool, typer.Option(
        "--include-routed", help="also rows the router sent straight to a non-local tier")] = False,
    since: Annotated[str | None, typer.Option(help="log rows from (ISO time, epoch or a duration ago: 30d)")] = None,
    until: Annotated[str | None, typer.Option(help="log rows until")] = None,
) -> None:
    """Build the SFT dataset (chat format, split by prompt, the target model's template) and its data card."""
    from rich.console import Console

    from smallfirst.finetune.base import load_base, resolve_base
    from smallfirst.finetune.export import Collected, LogFilter, from_log, from_tasks, write_dataset

    settings = _settings(config)
    _info, template, source = load_base(resolve_base(settings, base))
    if tasks is not None:
        if log is not None or task_type or include_routed or since or until:
            raise BadRequestError("--tasks exports a task file; --log, --task-type, --include-routed, --since and "
                                  "--until apply to the request log")
        collected: Collected = from_tasks(tasks)
    else:
        from smallfirst.cli.logstore import open_store
        from smallfirst.dashboard.views import parse_time

        now = time.time()
        f = LogFilter(local_tiers=frozenset(t.name for t in settings.tiers if t.is_local),
                      task_types=_split(task_type), include_routed=include_routed,
                      since=parse_time(since, now=now, param="since") if since else None,
                      until=parse_time(until, now=now, param="until") if until else None)
        store = open_store(settings, log)
        try:
            collected = from_log(store.query(since=f.since, until=f.until), f)
        finally:
            store.close()
        url = None if log is not None else settings.log.url  # never holds a password (see LogConfig)
        collected.source = {"kind": "log", "path": None if url else str(log or settings.log.path), "url": url,
                            "store_prompts": settings.log.store_prompts, "task_types": sorted(f.task_types),
                            "include_routed": include_routed, "since": f.since, "until": f.until}
    res = write_dataset(collected, out, template, heldout=heldout, seed=seed, template_source=source)
    c = res.card["counts"]
    con = Console()
    con.print(f"read {c['read']} rows: {c['examples']} examples ({c['duplicates_dropped']} duplicates dropped) → "
              f"[bold]{res.train}[/] train, [bold]{res.heldout}[/] held out")
    if c["excluded"]:
        con.print("excluded: " + ", ".join(f"{k} {v}" for k, v in c["excluded"].items()))
    con.print(f"written: {out}/ (train.jsonl, heldout.jsonl, heldout.tasks.jsonl, card.json, card.md)")


@app.command()
def run(
    data: Annotated[Path, typer.Option("--data", "-d", help="dataset folder from `export`")] = Path("finetune/data"),
    out: Annotated[Path, typer.Option("--out", "-o", help="run folder (an unfinished run there is resumed)")] =
        Path("finetune/run"),
    config: ConfigOpt = None,
    base: BaseOpt = None,
    r: Annotated[int, typer.Option("--r", help="LoRA rank")] = 16,
    alpha: Annotated[int, typer.Option(help="LoRA alpha")] = 32,
    dropout: Annotated[float, typer.Option(help="LoRA dropout")] = 0.05,
    lr: Annotated[float, typer.Option(help="learning rate (AdamW)")] = 2e-4,
    epochs: Annotated[float, typer.Option(help="passes over the training set")] = 3.0,
    max_steps: Annotated[int | None, typer.Option(help="stop after this many steps (overrides --epochs)")] = None,
    batch_size: Annotated[int, typer.Option(help="examples per step")] = 4,
    max_len: Annotated[int, typer.Option(help="longest example in tokens (longer ones are skipped)")] = 512,
    seed: Annotated[int, typer.Option(help="seed for weights, data order and dropout")] = 0,
    quant: Annotated[str, typer.Option(help="auto (4-bit QLoRA when bitsandbytes works), 4bit, none")] = "auto",
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    save_every: Annotated[int, typer.Option(help="checkpoint every N steps")] = 50,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch (default: torch's choice)")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="discard checkpoints in --out and start over")] = False,
    quiet: QuietOpt = False,
) -> None:
    """QLoRA-tune the base model on the dataset (r 16, α 32, lr 2e-4); checkpointed and resumable."""
    from rich.console import Console

    from smallfirst.finetune.base import resolve_base
    from smallfirst.finetune.train import TrainConfig, train

    base_path = resolve_base(_settings(config), base)
    cfg = TrainConfig(data=str(data), base=str(base_path), out=str(out), r=r, alpha=alpha, dropout=dropout, lr=lr,
                      epochs=epochs, max_steps=max_steps, batch_size=batch_size, max_len=max_len, seed=seed,
                      quant=quant, device=device, save_every=save_every, threads=threads)
    rep = train(cfg, fresh=fresh, progress=not quiet)
    con = Console()
    resumed = f" (resumed at step {rep['resumed_from_step']})" if rep["resumed_from_step"] is not None else ""
    con.print(f"{rep['mode']} on {rep['device']}: {rep['steps']} steps{resumed}, loss {rep['first_loss']:.4f} → "
              f"{rep['last_loss']:.4f}, {rep['seconds_per_step']:.3f} s/step")
    hb, ha = rep["heldout_loss_before"], rep["heldout_loss_after"]
    if hb is not None and ha is not None:
        con.print(f"held-out loss {hb:.4f} → {ha:.4f}")
    con.print(f"adapter: {out}/adapter/ and {out}/adapter.gguf; report {out}/train.json, plot {out}/loss.png")
    con.print(f"next: smallfirst finetune gate {out}")


@app.command("gate")
def gate_command(
    run_dir: Annotated[Path, typer.Argument(help="run folder from `run`")] = Path("finetune/run"),
    margin: Annotated[float, typer.Option(help="promote only when tuned beats base by more than this")] = 0.02,
    min_coverage: Annotated[float, typer.Option(min=0.0, max=1.0, help="share of held-out tasks both models must "
                                                "answer for a decision")] = 0.9,
    max_tokens: Annotated[int, typer.Option(min=1, help="answer length limit")] = 64,
    n_ctx: Annotated[int, typer.Option(min=64, help="llama.cpp context for the gate")] = 1024,
    threads: Annotated[int | None, typer.Option(help="llama.cpp threads")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Base vs tuned on the held-out tasks with the eval scorers; promote only if it wins by the margin."""
    from smallfirst.finetune.gate import GateOptions, gate

    g = gate(run_dir, GateOptions(margin=margin, min_coverage=min_coverage, max_tokens=max_tokens, n_ctx=n_ctx,
                                  threads=threads, progress=not quiet))
    typer.echo(g["reason"])
    typer.echo(f"report: {run_dir}/gate.md; next: " + (f"smallfirst finetune deploy {run_dir}" if g["promote"]
                                                        else "more data or more steps, then run and gate again"))
    if not g["promote"]:
        raise typer.Exit(3)


@app.command("deploy")
def deploy_command(
    run_dir: Annotated[Path, typer.Argument(help="run folder that passed the gate")] = Path("finetune/run"),
    to: Annotated[Path, typer.Option("--to", help="deploy folder (versioned adapters, Modelfile, promoted.json)")] =
        Path("models"),
    name: Annotated[str | None, typer.Option(help="model name (default <base>-tuned)")] = None,
    ollama_from: Annotated[str | None, typer.Option(
        help="Modelfile FROM: an Ollama model holding the same base weights (default: the base GGUF path)")] = None,
    force: Annotated[bool, typer.Option("--force", help="deploy even if the gate kept the base")] = False,
    quality: Annotated[float, typer.Option(min=0.0, max=1.0, help="recalibration quality target")] = 0.95,
    router_artifact: Annotated[Path | None, typer.Option(
        help="learned router to recalibrate (default: routing.artifact from the config)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Promote: versioned adapter GGUF + Ollama Modelfile + promoted.json (the gateway follows it); recalibrate."""
    from smallfirst.finetune.deploy import deploy
    from smallfirst.finetune.recalibrate import recalibrate, summary_lines

    d = deploy(run_dir, to, name=name, force=force, ollama_from=ollama_from)
    typer.echo(f"promoted {d['name']} v{d['version']} ({d['gate']}{', forced' if d['forced'] else ''})")
    typer.echo(f"adapter {d['adapter']}; Modelfile {d['modelfile']} (ollama create {d['name']} -f {d['modelfile']})")
    typer.echo(f"pointer {d['pointer']} — an embedded endpoint with promoted = \"{d['pointer']}\" serves it from its "
               "next request, no restart")
    artifact = router_artifact
    if artifact is None and config is not None:
        settings = _settings(config)
        if settings.routing.router == "learned" and settings.routing.artifact:
            artifact = Path(settings.routing.artifact)
    if (Path(run_dir) / "gate.json").is_file():
        rc = recalibrate(run_dir, quality=quality, router_artifact=artifact, out_dir=to)
        (Path(to) / "recalibration.json").write_text(json.dumps(rc, indent=2) + "\n", encoding="utf-8")
        for line in summary_lines(rc):
            typer.echo(line)


@app.command("rollback")
def rollback_command(
    to: Annotated[Path, typer.Option("--to", help="deploy folder")] = Path("models"),
    version: Annotated[int | None, typer.Option(help="version to serve (0 = the base model; default: previous)")]
        = None,
) -> None:
    """Point promoted.json back at an earlier version (or the base); the gateway follows without a restart."""
    from smallfirst.finetune.deploy import rollback

    r = rollback(to, version=version)
    what = "the base model" if r["version"] == 0 else f"v{r['version']}"
    typer.echo(f"serving {what} (was v{r['from']}); pointer {r['pointer']}")


@app.command("recalibrate")
def recalibrate_command(
    run_dir: Annotated[Path, typer.Argument(help="gated run folder")] = Path("finetune/run"),
    quality: Annotated[float, typer.Option(min=0.0, max=1.0, help="quality target (share of the upper tier's)")]
        = 0.95,
    router_artifact: Annotated[Path | None, typer.Option(help="two-tier learned router artifact to recalibrate")]
        = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the full result as JSON")] = False,
) -> None:
    """Local share before/after the fine-tune on the held-out outcomes (cascade threshold, router thresholds)."""
    from smallfirst.finetune.recalibrate import recalibrate, summary_lines

    rc = recalibrate(run_dir, quality=quality, router_artifact=router_artifact)
    if json_out:
        typer.echo(json.dumps(rc, indent=2))
        return
    for line in summary_lines(rc):
        typer.echo(line)
