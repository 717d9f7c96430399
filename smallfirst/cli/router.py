"""`smallfirst router train | calibrate | bench` — learn, calibrate and measure the router."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from smallfirst.cli.app import new_app
from smallfirst.cli.errors import UsageError
from smallfirst.cli.router_data import load_table
from smallfirst.cli.router_data import split_names as _split
from smallfirst.core.errors import BadRequestError
from smallfirst.core.progress import Steps

app = new_app(no_args_is_help=True, help="Train, calibrate and benchmark the learned router.")

OutcomesArg = Annotated[str, typer.Argument(
    help="outcomes JSONL (the format `smallfirst eval` writes), or routellm:<mmlu|gsm8k|mt-bench|all>")]
TiersOpt = Annotated[str | None, typer.Option(
    "--tiers", help="tier names cheapest first, e.g. local,frontier (RouteLLM: weak,strong names)")]
DataDirOpt = Annotated[str | None, typer.Option(
    "--data-dir", help="routellm:…: folder of RouteLLM's tidy outcomes.jsonl (default $SMALLFIRST_ROUTELLM_DIR; "
    "not shipped — examples/outcomes.jsonl is a bundled sample of it)")]
ModelPerTierOpt = Annotated[str | None, typer.Option(
    "--model-per-tier", help="the model each tier stands for when a tier holds several, e.g. "
    "local=mixtral-8x7b,frontier=gpt-4 (exact id or a unique part of one; tier=* averages them); a tier with "
    "several models and no choice is refused")]
TierCostsOpt = Annotated[str | None, typer.Option(
    "--tier-costs", help="cost per call by tier, e.g. local=0,frontier=1 (default: file costs or rank)")]
SAMPLE = "examples/outcomes.jsonl"


def need_two_tiers(table: Any, spec: str, verb: str) -> None:
    """One line on what a one-tier outcomes file lacks and how to get the second tier."""
    if len(table.tiers) >= 2:
        return
    only = ", ".join(repr(t) for t in table.tiers) or "none"
    raise BadRequestError(
        f"router {verb} needs outcomes for at least two tiers; {spec} has only {only}",
        hint="configure a second tier (e.g. an API tier) and run `smallfirst eval TASKS` again, or use the "
             f"bundled public RouteLLM sample: smallfirst router {verb} {SAMPLE}")


def _progress() -> Steps:
    return Steps()


def _label(spec: str) -> str:
    return spec.split(":", 1)[1].replace(",", "+") if spec.startswith("routellm:") else Path(spec).stem


@app.command()
def train(
    outcomes: Annotated[str | None, typer.Argument(
        help="outcomes JSONL (the format `smallfirst eval` writes), or routellm:<mmlu|gsm8k|mt-bench|all>; "
             "leave out with --from-log")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="artifact path (.npz)")] = Path("router.npz"),
    tiers: TiersOpt = None,
    kind: Annotated[str, typer.Option(help="logistic, ridge, ensemble (both, summed) or auto (= ensemble)")] = "auto",
    c: Annotated[float | None, typer.Option(
        "--c", help="inverse regularisation strength (default: inner CV over 0.1, 0.3, 1, 3)")] = None,
    folds: Annotated[int, typer.Option(help="folds for the out-of-fold calibration scores")] = 5,
    no_meta: Annotated[bool, typer.Option("--no-meta", help="text n-grams only (no task/signal tokens)")] = False,
    features: Annotated[str, typer.Option(help="ngrams (hashed n-grams, < 1 ms), embed (all-MiniLM-L6-v2 vector "
                        "of the prompt, a few ms per request on CPU) or both")] = "ngrams",
    data_dir: DataDirOpt = None,
    from_log: Annotated[bool, typer.Option("--from-log", help="train on the request log: escalations after a "
                        "failed check and POST /v1/feedback (rows with prompt text only)")] = False,
    log: Annotated[Path | None, typer.Option(help="--from-log: SQLite request log (default: log.path / log.url "
                   "from config)")] = None,
    since: Annotated[str | None, typer.Option(help="--from-log: start, e.g. 7d, 24h, ISO 8601 (default 30d)")
                     ] = None,
    min_prompts: Annotated[int, typer.Option(help="--from-log: fewest prompts with outcomes for every tier")
                           ] = 20,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="--from-log: smallfirst.toml (tier order, "
                      "the log)")] = None,
    tier_costs: Annotated[str | None, typer.Option(
        "--tier-costs", help="cost per call by tier, e.g. local=0,frontier=1, stored in the artifact so "
        "calibrate --quality minimises it (default: file costs or rank)")] = None,
    model_per_tier: ModelPerTierOpt = None,
) -> None:
    """Train a learned router on outcomes (a file, or the request log with --from-log) → a versioned artifact
    (npz, no pickled code)."""
    from rich.console import Console

    from smallfirst.routing import metrics as M
    from smallfirst.routing.features import HashedFeaturizer
    from smallfirst.routing.train import TrainSpec, featurize
    from smallfirst.routing.train import train as fit

    if folds < 2:
        raise BadRequestError("--folds must be at least 2", hint="5 is a good default")
    if from_log and outcomes is not None:
        raise UsageError("give an OUTCOMES file or --from-log, not both",
                         hint="see 'smallfirst router train --help'")
    if not from_log and outcomes is None:
        raise UsageError("Missing argument 'OUTCOMES' (an outcomes file), or --from-log to train on the request log",
                         hint="e.g. smallfirst router train examples/outcomes.jsonl; see 'smallfirst router "
                              "train --help'")
    if from_log:
        from smallfirst.cli.router_from_log import table_from_log
        from smallfirst.routing.table_options import parse_tier_costs, with_tier_costs

        table, where = table_from_log(config, log, since, _split(tiers), min_prompts)
        table = with_tier_costs(table, parse_tier_costs(tier_costs))
        source = f"request log ({log or 'config'}, since {since or '30d'})"
        typer.echo(where)
    else:
        assert outcomes is not None
        table, source = load_table(outcomes, tiers, tier_costs, data_dir, model_per_tier), outcomes
        need_two_tiers(table, outcomes, "train")
    from smallfirst.routing.embedding import FEATURES, uses_embedding

    if features not in FEATURES:
        raise BadRequestError(f"unknown --features {features!r}", hint=f"choose from {', '.join(FEATURES)}")
    spec = TrainSpec(kind=kind, c=c, use_meta=not no_meta, folds=folds, features=features)
    spec.resolved_kind(table.scores)  # validate early
    feat = HashedFeaturizer(bits=spec.bits, use_meta=spec.use_meta)
    with _progress() as prog:
        t0 = prog.add("embeddings (cached)", len(table)) if uses_embedding(features) else None
        t1 = prog.add("features", len(table))
        fm = featurize(table.prompts, table.tasks, feat, progress=lambda k: prog.advance(t1, k), features=features,
                       embed_progress=None if t0 is None else (lambda k: prog.advance(t0, k)))
        t2 = prog.add("fitting", min(folds, len(set(table.groups.tolist()))) + 1)
        model = fit(table, spec, fm=fm, featurizer=feat, progress=lambda k: prog.advance(t2, k))
    from smallfirst.routing.table_options import parse_tier_costs

    model = dataclasses.replace(model, meta={**model.meta, "source": source, "models": table.meta.get("models", {}),
                                             "tier_costs": parse_tier_costs(tier_costs)})
    path = model.save(out)
    con = Console(soft_wrap=True)  # lines a user copies (paths, the next command) are never broken
    con.print(f"trained [bold]{model.meta['kind']}[/] router (C={model.meta['c']}, features {model.features}) "
              f"on {len(table)} prompts "
              f"(tiers {', '.join(table.tiers)}; {table.dropped} dropped) in {model.meta['train_seconds']} s")
    if len(table.tiers) == 2 and model.oof is not None:
        w, s = table.scores[:, 0], table.scores[:, 1]
        cc, q = M.quality_curve(-model.oof[:, 0], w, s)
        summ = M.two_tier_summary(cc, q, float(w.mean()), float(s.mean()))
        con.print(f"out-of-fold: APGR {summ['apgr']:.3f}, CPT(50%) {_pct(summ['cpt50'])}, "
                  f"CPT(80%) {_pct(summ['cpt80'])}, {table.tiers[-1]} calls for 95% quality "
                  f"{_pct(summ['c_at_95'])}")
    con.print(f"artifact: {path} ({path.stat().st_size / 1e6:.1f} MB); next: smallfirst router calibrate "
              f"--artifact {path} --target-mix ...")


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


@app.command()
def calibrate(
    artifact: Annotated[Path, typer.Option("--artifact", "-a", help="router artifact")] = Path("router.npz"),
    target_mix: Annotated[str | None, typer.Option(
        "--target-mix", help="tier shares, e.g. local=0.7,mid=0.2,frontier=0.1")] = None,
    quality: Annotated[float | None, typer.Option(
        "--quality", help="quality target as a fraction of the top tier's, e.g. 0.95")] = None,
    outcomes: Annotated[str | None, typer.Option(
        "--outcomes", help="held-out outcomes to calibrate on (default: the artifact's out-of-fold scores)")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="thresholds JSON path")] = None,
    data_dir: DataDirOpt = None,
    model_per_tier: ModelPerTierOpt = None,
) -> None:
    """Thresholds for a target tier mix or a quality target → <artifact>.thresholds.json."""
    import numpy as np
    from rich.console import Console

    from smallfirst.routing import calibrate as C
    from smallfirst.routing.learned import ThresholdsFile, thresholds_path_for
    from smallfirst.routing.model import LinearRouterModel

    if (target_mix is None) == (quality is None):
        raise BadRequestError("give exactly one of --target-mix or --quality",
                              hint="e.g. --target-mix local=0.7,frontier=0.3 or --quality 0.95")
    model = LinearRouterModel.load(artifact)
    tiers = model.tiers
    if outcomes is not None:
        from smallfirst.routing.table_options import costs_spec

        # costs in the units the artifact was trained with (its --tier-costs), else the file's
        table = load_table(outcomes, ",".join(tiers), costs_spec(model.meta.get("tier_costs")), data_dir,
                           model_per_tier)
        feat = model.featurizer
        good = np.array([model.probs(p, feat.prompt_signals(p, t)) for p, t in zip(table.prompts, table.tasks,
                                                                                      strict=True)])
        scores, costs, source = table.scores, table.costs, outcomes
    else:
        if model.oof is None or model.oof_scores is None or model.oof_costs is None:
            raise BadRequestError("the artifact has no out-of-fold scores", hint="pass --outcomes")
        good, scores, costs, source = model.oof, model.oof_scores, model.oof_costs, "out-of-fold (training)"
    rows = np.arange(len(scores))
    if target_mix is not None:
        mix = C.parse_mix(target_mix, tiers)
        thr = C.calibrate_mix(good, mix)
        method, mix_d, qt = "mix", dict(zip(tiers, mix, strict=True)), None
    else:
        assert quality is not None
        if not 0 < quality <= 1.5:
            raise BadRequestError(f"--quality {quality} is out of range", hint="a fraction such as 0.95")
        target = quality * float(scores[:, -1].mean())
        thr, _, _ = C.calibrate_quality(good, scores, costs, target)
        method, mix_d, qt = "quality", None, quality
    pick = C.choose_tiers(good, thr)
    real = np.bincount(pick, minlength=len(tiers)) / len(pick)
    expected: dict[str, Any] = {"mix": dict(zip(tiers, real.round(4).tolist(), strict=True)),
                "quality": float(scores[rows, pick].mean()), "cost": float(costs[rows, pick].mean()),
                "top_tier_quality": float(scores[:, -1].mean()), "n": len(pick)}
    tf = ThresholdsFile(tiers=tiers, thresholds=C.thresholds_dict(tiers, thr), method=method,
                        target_mix=mix_d, quality_target=qt, expected=expected, source=source)
    path = tf.save(out or thresholds_path_for(artifact))
    con = Console(soft_wrap=True)  # lines a user copies (paths, the next command) are never broken
    shown = ", ".join(f"{t} ≥ {v:.4f}" for t, v in tf.thresholds.items())
    con.print(f"thresholds ({method}, on {source}): {shown}")
    con.print("expected mix: " + ", ".join(f"{t} {100 * v:.1f}%" for t, v in expected["mix"].items())
              + f"; quality {expected['quality']:.4f} (top tier {expected['top_tier_quality']:.4f})")
    con.print(f"written: {path}")


@app.command()
def bench(
    outcomes: OutcomesArg,
    routers: Annotated[str, typer.Option(help="candidate routers (random and oracle are always added)")] =
        "learned,learned-text,task-prior,length,rules",
    folds: Annotated[int, typer.Option(help="cross-validation folds (grouped by prompt)")] = 5,
    seeds: Annotated[int, typer.Option(help="repetitions with different fold splits")] = 1,
    kind: Annotated[str, typer.Option(help="learned model: logistic, ridge, ensemble or auto (= ensemble)")] = "auto",
    c: Annotated[float | None, typer.Option(
        "--c", help="inverse regularisation strength (default: inner CV per fold)")] = None,
    tiers: TiersOpt = None,
    tier_costs: TierCostsOpt = None,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="where the JSON summary and PNG go")] = Path("."),
    data_dir: DataDirOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the summary JSON to stdout instead of the table")
                        ] = False,
    model_per_tier: ModelPerTierOpt = None,
    target_mix: Annotated[str | None, typer.Option(
        "--target-mix", help="also report the realised mix, cost and quality at thresholds calibrated on the "
        "training folds for this mix, e.g. local=0.7,frontier=0.3")] = None,
    no_cross_domain: Annotated[bool, typer.Option(
        "--no-cross-domain", help="skip the leave-one-domain-out figures (on by default when the outcomes span "
        "several datasets or tasks)")] = False,
) -> None:
    """Cross-validated cost-quality benchmark vs random, always-one-tier and oracle → JSON + PNG."""
    from smallfirst.routing.benchmark import run_bench
    from smallfirst.routing.plot import plot_bench

    if folds < 2 or seeds < 1:
        raise BadRequestError("--folds must be ≥ 2 and --seeds ≥ 1", hint="e.g. --folds 5 --seeds 3")
    names = _split(routers) or []
    table = load_table(outcomes, tiers, tier_costs, data_dir, model_per_tier)
    need_two_tiers(table, outcomes, "bench")
    label = _label(outcomes)
    from smallfirst.routing.bench_cross import domain_labels, held_out_domains
    from smallfirst.routing.calibrate import parse_mix

    mix = parse_mix(target_mix, table.tiers) if target_mix else None
    found = None if no_cross_domain else domain_labels(table)
    n_domains = len(held_out_domains(found[1])) if found else 0
    from smallfirst.routing.candidates import EMBED_CANDIDATES

    with _progress() as prog:
        if EMBED_CANDIDATES & set(names):  # embed once, with a bar (the candidates read the on-disk cache)
            from smallfirst.routing.embedding import embed_texts

            t0 = prog.add("embeddings (cached)", len(table))
            embed_texts(table.prompts, progress=lambda k: prog.advance(t0, k))
        task = prog.add(f"bench {label}", len(names) * (folds * seeds + n_domains))
        try:
            result = run_bench(table, names, folds=folds, seeds=range(seeds), kind=kind, c=c,
                               progress=lambda k: prog.advance(task, k), label=label, target_mix=mix,
                               cross_domain=not no_cross_domain)
        except ValueError as err:
            raise BadRequestError(str(err), hint="see `smallfirst router bench --help`") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    jpath = out_dir / f"router-bench-{label}.json"
    jpath.write_text(json.dumps(result.summary, indent=2) + "\n", encoding="utf-8")
    ppath = plot_bench(result, out_dir / f"router-bench-{label}.png")
    if json_out:
        typer.echo(json.dumps(result.summary))
    else:
        from smallfirst.routing.report import print_summary

        print_summary(result.summary)
    typer.echo(f"written: {jpath}, {ppath}", err=json_out)


from smallfirst.cli.router_eval import eval_command  # noqa: E402  (its body imports this module lazily)

app.command("eval")(eval_command)
