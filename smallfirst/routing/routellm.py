"""Loader for the RouteLLM per-prompt outcome data (lm-sys/RouteLLM, Apache-2.0).

Reads the tidy ``outcomes.jsonl`` described in ``shared/data/routellm/README.md`` (never copied into
the repo). Weak tier = ``mistralai/Mixtral-8x7B-Instruct-v0.1``, strong tier = ``gpt-4-1106-preview``;
rows RouteLLM marks contaminated are dropped, as RouteLLM does. MT-Bench is routed per question on
turn 1 and scored over both turns (mean of the two judge scores), as in RouteLLM's evaluation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smallfirst.core.errors import BadRequestError
from smallfirst.routing.outcomes import Outcome

WEAK_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG_MODEL = "gpt-4-1106-preview"
BENCHMARKS = ("mmlu", "gsm8k", "mt-bench")
ENV_DIR = "SMALLFIRST_ROUTELLM_DIR"
SPEC_PREFIX = "routellm:"


def default_dirs() -> list[Path]:
    """Where the data is looked for: $SMALLFIRST_ROUTELLM_DIR, then ../shared/data/routellm beside the
    working directory and beside the repository that holds this package."""
    out: list[Path] = []
    env = os.environ.get(ENV_DIR)
    if env:
        out.append(Path(env))
    out.append(Path.cwd() / ".." / "shared" / "data" / "routellm")
    out.append(Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "routellm")
    return out


def find_data(data_dir: str | Path | None = None) -> Path:
    """Path of RouteLLM's tidy ``outcomes.jsonl``."""
    candidates = [Path(data_dir)] if data_dir is not None else default_dirs()
    for d in candidates:
        f = d if d.is_file() else d / "outcomes.jsonl"
        if f.is_file():
            return f.resolve()
    where = ", ".join(str(c) for c in candidates)
    raise BadRequestError(f"RouteLLM outcome data not found (looked in: {where})",
                          hint=f"pass --data-dir or set {ENV_DIR} to the folder holding outcomes.jsonl "
                          "(examples/outcomes.jsonl is a bundled sample of it)")


def parse_spec(spec: str) -> list[str] | None:
    """``routellm:mmlu`` / ``routellm:mmlu,gsm8k`` / ``routellm:all`` → benchmarks; other specs → None."""
    if not spec.startswith(SPEC_PREFIX):
        return None
    names = [s.strip() for s in spec[len(SPEC_PREFIX):].split(",") if s.strip()]
    if names == ["all"]:
        return list(BENCHMARKS)
    bad = [n for n in names if n not in BENCHMARKS]
    if bad or not names:
        raise BadRequestError(f"unknown RouteLLM benchmark {', '.join(bad) or '(none)'}",
                              hint=f"use routellm:<{'|'.join(BENCHMARKS)}|all>")
    return names


def load_routellm(benchmarks: Sequence[str] = BENCHMARKS, data_dir: str | Path | None = None,
                  tiers: tuple[str, str] = ("local", "frontier"),
                  include_contaminated: bool = False) -> list[Outcome]:
    """Outcome rows for the weak/strong pair (named ``tiers``) on the given benchmarks."""
    path = find_data(data_dir)
    wanted = set(benchmarks)
    tier_of = {WEAK_MODEL: tiers[0], STRONG_MODEL: tiers[1]}
    # MT-Bench: (question, model) → per-turn scores, turn-1 text, category
    mt: dict[tuple[str, str], dict[str, Any]] = {}
    rows: list[Outcome] = []
    with path.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                r = json.loads(raw)
            except json.JSONDecodeError:
                raise BadRequestError(f"{path} line {n}: not valid JSON",
                                      hint="the RouteLLM tidy file looks damaged") from None
            bench, model = r.get("benchmark"), r.get("model")
            if bench not in wanted or model not in tier_of or r.get("system_type") != "model":
                continue
            if r.get("contaminated") and not include_contaminated:
                continue
            if r.get("score") is None:
                continue
            if bench == "mt-bench":
                qid = r["prompt_id"].rsplit("/", 1)[0]
                slot = mt.setdefault((qid, model), {"turns": {}, "text": None, "task": r.get("subset")})
                slot["turns"][r["turn"]] = float(r["score"])
                if r["turn"] == 1:
                    slot["text"] = r["prompt"]
                continue
            rows.append(Outcome(prompt_id=r["prompt_id"], prompt=r["prompt"], tier=tier_of[model],
                                score=float(r["score"]), model=model, task=r.get("subset") or bench,
                                dataset=f"routellm/{bench}"))
    for (qid, model), slot in sorted(mt.items()):
        if slot["text"] is None or not slot["turns"]:
            continue
        score = sum(slot["turns"].values()) / len(slot["turns"])
        rows.append(Outcome(prompt_id=qid, prompt=slot["text"], tier=tier_of[model], score=score, model=model,
                            task=slot["task"], dataset="routellm/mt-bench"))
    if not rows:
        raise BadRequestError(f"no RouteLLM rows for {', '.join(sorted(wanted))} in {path}",
                              hint=f"benchmarks are: {', '.join(BENCHMARKS)}")
    return rows
