"""`smallfirst router retrain`: train a candidate on the request log, gate it on held-out recent traffic
against the running router, promote only when it wins (smallfirst/routing/retrain.py).

Exit codes: 0 promoted (with ``--dry-run``: would be), 3 kept, 1 too little traffic, 2 a config mistake.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from smallfirst.core.errors import BadRequestError, ConfigError

KEPT = 3


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _print(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    run, cand = result["running"], result["candidate"]
    table = Table(title=f"held-out: the newest {result['holdout_prompts']} prompts (since {result['heldout_since']})")
    for col in ("router", "artifact", "APGR", *(f"APGR {t}" for t in run["apgr_by_tier"]), "quality", "cost",
                "mix"):
        table.add_column(col)
    for name, ev, sha in (("running", run, result["running_sha256"]), ("candidate", cand, "new")):
        by = [("–" if v is None else f"{v:.3f}") for v in ev["apgr_by_tier"].values()]
        table.add_row(name, sha or "–", "–" if ev["apgr"] is None else f"{ev['apgr']:.3f}", *by,
                      f"{ev['quality']:.3f}", f"{ev['cost']:.3f}",
                      " / ".join(f"{t} {_pct(v)}" for t, v in ev["mix"].items()))
    con = Console(soft_wrap=True)  # lines a user copies (paths, the next command) are never broken
    con.print(table)
    con.print(result["reason"])


def retrain(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="smallfirst.toml (routing.artifact: the "
                      "running router and where a promotion is written; the log)")] = None,
    log: Annotated[Path | None, typer.Option(help="SQLite request log (default: log.path / log.url from config)")
                   ] = None,
    since: Annotated[str | None, typer.Option(help="start, e.g. 7d, 24h, ISO 8601 (default 30d)")] = None,
    holdout: Annotated[float, typer.Option(min=0.01, max=0.9, help="newest share of the prompts with outcomes "
                       "held out for the gate (never trained on)")] = 0.2,
    margin: Annotated[float, typer.Option(help="promote only when the candidate's held-out APGR beats the "
                      "running router's by more than this")] = 0.01,
    min_heldout: Annotated[int, typer.Option(min=1, help="fewest held-out prompts for a decision")] = 20,
    min_train: Annotated[int, typer.Option(min=2, help="fewest prompts to train the candidate on")] = 20,
    kind: Annotated[str, typer.Option(help="logistic, ridge, ensemble or auto (= ensemble)")] = "auto",
    folds: Annotated[int, typer.Option(min=2, help="folds for the out-of-fold calibration scores")] = 5,
    features: Annotated[str | None, typer.Option(help="candidate's inputs: ngrams, embed or both (default: the "
                        "running router's)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="train, evaluate and decide; write nothing")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the result JSON instead of the table")] = False,
) -> None:
    """Retrain the learned router on the request log; promote it only when it beats the running one on
    held-out recent traffic (exit 0 promoted, 3 kept)."""
    from smallfirst.cli.router_from_log import DEFAULT_SINCE, read_log, table_from_records
    from smallfirst.routing import retrain as R
    from smallfirst.routing.learned import LearnedRouter, ThresholdsFile, from_config, thresholds_path_for
    from smallfirst.routing.reload import sha12
    from smallfirst.routing.train import TrainSpec, train

    settings, records, feedback = read_log(config, log, since)
    rc = settings.routing
    if not rc.artifact:
        raise ConfigError("router retrain needs routing.artifact in the config: the running router, and where a "
                          "promoted one is written", hint="train the first one with `smallfirst router train "
                          "--from-log --out router.npz` and set routing.artifact = \"router.npz\"")
    artifact = Path(rc.artifact)
    if not artifact.is_file():
        raise ConfigError(f"routing.artifact {str(artifact)!r} does not exist: there is no running router to beat",
                          hint="train the first one with `smallfirst router train --from-log --out "
                               f"{artifact}`")
    running = from_config(settings)
    assert isinstance(running, LearnedRouter)
    need = R.Options(holdout=holdout, margin=margin, min_heldout=min_heldout, min_train=min_train)
    table, where = table_from_records(settings, records, feedback, since, list(running.tiers),
                                      min_prompts=min_heldout + min_train, verb="router retrain")
    tr, ho, cut = R.time_split(table, R.last_seen(records), holdout)
    if len(ho) < min_heldout or len(tr) < min_train:
        raise BadRequestError(f"router retrain: too little traffic — {len(table)} prompts with outcomes for every "
                              f"tier split into {len(tr)} to train and {len(ho)} held out (the newest "
                              f"{holdout:.0%}); needs {min_train} and {min_heldout}: {where}",
                              hint="serve more traffic, widen --since, or change --holdout / --min-heldout")
    train_t, held_t = table.subset(tr), table.subset(ho)
    rm = running.model  # the candidate is built like the running router: the same inputs, the same hashing
    spec = TrainSpec(kind=kind, folds=min(folds, len(train_t)), bits=rm.featurizer.bits,
                     use_meta=rm.featurizer.use_meta, features=features or str(getattr(rm, "features", "ngrams")))
    try:
        model = train(train_t, spec, featurizer=rm.featurizer)
    except ValueError as err:
        raise BadRequestError(f"router retrain: {err}", hint="see `smallfirst router retrain --help`") from None
    thr_path = Path(rc.thresholds) if rc.thresholds else thresholds_path_for(artifact)
    run_thr = ThresholdsFile.load(thr_path) if thr_path.is_file() else None
    cand_thr = R.candidate_thresholds(model, run_thr)
    candidate = LearnedRouter(model, cand_thr)
    ev_run, ev_cand = R.evaluate(running, held_t), R.evaluate(candidate, held_t)
    promote, reason = R.decide(ev_run, ev_cand, need)
    result: dict[str, Any] = {
        "promote": promote, "reason": reason, "dry_run": dry_run, "margin": margin, "holdout": holdout,
        "train_prompts": len(tr), "holdout_prompts": len(ho),
        "heldout_since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cut)),
        "log": where, "artifact": str(artifact), "running_sha256": sha12(artifact),
        "thresholds": str(thr_path) if cand_thr is not None else None, "running": ev_run, "candidate": ev_cand,
        "written": []}
    if promote and not dry_run:
        meta = {"source": f"request log since {since or DEFAULT_SINCE} (router retrain)",
                "retrained_from": result["running_sha256"],
                "gate": {"heldout": len(ho), "running_apgr": ev_run["apgr"], "candidate_apgr": ev_cand["apgr"],
                         "margin": margin}}
        result["written"] = [str(p) for p in R.promote(model, cand_thr, artifact, thr_path, meta)]
    if json_out:
        typer.echo(json.dumps(result))
    else:
        _print(result)
        if result["written"]:
            typer.echo(f"promoted: {', '.join(result['written'])} (previous kept as .bak); a running gateway "
                       "loads it within routing.reload_interval_s, or POST /admin/router/reload")
        elif promote:
            typer.echo("dry run: nothing written")
    if not promote:
        raise typer.Exit(KEPT)

