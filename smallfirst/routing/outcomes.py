"""Outcomes: how well each tier answered each prompt. The router trains and calibrates on these.

File format (JSONL, UTF-8, one JSON object per line; ``smallfirst eval`` writes the same rows):

====================  ==========  ==============================================================
field                 required    meaning
====================  ==========  ==============================================================
``prompt_id``         yes         stable id of the prompt (rows of one prompt share it)
``prompt``            yes         the text the router sees (user messages joined by newlines)
``tier``              yes         tier that answered (``local``, ``mid``, ``frontier`` …)
``score``             yes         quality of the answer, a number in [0, 1] (``null``: not graded, skipped, counted)
``model``             no          concrete model id
``cost_usd``          no          API cost of this answer (0 for local)
``prompt_tokens``     no          tokens in / out, when known
``completion_tokens`` no
``confidence``        no          the model's own confidence in [0, 1] (e.g. from log-probs)
``task``              no          task label / hint (e.g. ``classify``, ``mmlu/anatomy``)
``dataset``           no          where the prompt came from
====================  ==========  ==============================================================

Blank lines are skipped; unknown keys are kept out of the way (ignored). A malformed line raises
:class:`~smallfirst.core.errors.BadRequestError` naming the file, the line number and the problem.

:class:`OutcomeTable` pivots rows into a prompts × tiers matrix of scores and costs (tiers cheapest
first); prompts that lack an outcome for some tier are dropped (counted in ``dropped``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from smallfirst.core.errors import BadRequestError
from smallfirst.core.suggest import hint_for

FORMAT_VERSION = 1
_REQUIRED = ("prompt_id", "prompt", "tier", "score")
_OPT_NUM = ("cost_usd", "confidence")
_OPT_INT = ("prompt_tokens", "completion_tokens")
_OPT_STR = ("model", "task", "dataset")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One row: one prompt answered by one tier."""

    prompt_id: str
    prompt: str
    tier: str
    score: float
    model: str | None = None
    cost_usd: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    confidence: float | None = None
    task: str | None = None
    dataset: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _fail(source: str, line: int, what: str) -> BadRequestError:
    return BadRequestError(
        f"{source} line {line}: {what}",
        hint="each line must be a JSON object with prompt_id, prompt, tier and score in [0, 1] "
             "(see smallfirst/routing/outcomes.py for the format)",
    )


def parse_row(obj: Any, source: str = "outcomes", line: int = 1) -> Outcome:
    """Validate one decoded JSON value as an outcome row."""
    if not isinstance(obj, dict):
        raise _fail(source, line, f"expected a JSON object, got {type(obj).__name__}")
    for key in _REQUIRED:
        if key not in obj or obj[key] is None:
            raise _fail(source, line, f"missing required field {key!r}")
    for key in ("prompt_id", "prompt", "tier"):
        if not isinstance(obj[key], str) or (key != "prompt" and not obj[key]):
            raise _fail(source, line, f"{key!r} must be a non-empty string, got {obj[key]!r}")
    score = obj["score"]
    if isinstance(score, bool) or not isinstance(score, int | float) or not (0.0 <= float(score) <= 1.0) \
            or math.isnan(float(score)):
        raise _fail(source, line, f"'score' must be a number in [0, 1], got {score!r}")
    kw: dict[str, Any] = {}
    for key in _OPT_NUM:
        v = obj.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
            raise _fail(source, line, f"{key!r} must be a non-negative number, got {v!r}")
        if key == "confidence" and v > 1:
            raise _fail(source, line, f"'confidence' must be in [0, 1], got {v!r}")
        kw[key] = float(v)
    for key in _OPT_INT:
        v = obj.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise _fail(source, line, f"{key!r} must be a non-negative integer, got {v!r}")
        kw[key] = v
    for key in _OPT_STR:
        v = obj.get(key)
        if v is None:
            continue
        if not isinstance(v, str):
            raise _fail(source, line, f"{key!r} must be a string, got {v!r}")
        kw[key] = v
    return Outcome(prompt_id=obj["prompt_id"], prompt=obj["prompt"], tier=obj["tier"], score=float(score), **kw)


def null_score(obj: Any) -> bool:
    """A row whose ``score`` is present but null: the answer was not graded (skipped, and counted)."""
    return isinstance(obj, dict) and "score" in obj and obj["score"] is None


def read_outcomes(path: str | Path, skipped: list[int] | None = None) -> list[Outcome]:
    """Read and validate an outcomes JSONL file. A row with ``"score": null`` (not graded) is skipped; its
    line number is appended to ``skipped`` when given, so the caller can say how many."""
    p = Path(path)
    if not p.is_file():
        raise BadRequestError(f"outcomes file {str(p)!r} not found",
                              hint="pass a JSONL file written by `smallfirst eval`, or routellm:<benchmark>")
    rows: list[Outcome] = []
    with p.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as err:
                raise _fail(str(p), n, f"not valid JSON ({err.msg} at column {err.colno})") from None
            if null_score(obj):
                if skipped is not None:
                    skipped.append(n)
                continue
            rows.append(parse_row(obj, str(p), n))
    if not rows:
        raise BadRequestError(f"outcomes file {str(p)!r} has no rows", hint="it must hold at least one JSON line")
    return rows


def write_outcomes(path: str | Path, rows: Iterable[Outcome]) -> int:
    """Write rows as JSONL; returns the number written."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
            n += 1
    return n


@dataclass(frozen=True)
class OutcomeTable:
    """Prompts × tiers. ``scores[i, t]`` / ``costs[i, t]``: tier ``t``'s quality / cost on prompt ``i``."""

    prompt_ids: tuple[str, ...]
    prompts: tuple[str, ...]
    tasks: tuple[str | None, ...]
    tiers: tuple[str, ...]
    scores: npt.NDArray[np.float64]
    costs: npt.NDArray[np.float64]
    groups: npt.NDArray[np.int64]
    cost_unit: str = "usd"
    dropped: int = 0
    meta: Mapping[str, Any] = field(default_factory=dict)
    datasets: tuple[str | None, ...] = ()  # per prompt, where it came from (``dataset``); () when unknown

    def __len__(self) -> int:
        return len(self.prompt_ids)

    def subset(self, idx: npt.NDArray[np.int64]) -> OutcomeTable:
        ii = [int(i) for i in idx]
        return OutcomeTable(
            prompt_ids=tuple(self.prompt_ids[i] for i in ii), prompts=tuple(self.prompts[i] for i in ii),
            tasks=tuple(self.tasks[i] for i in ii), tiers=self.tiers, scores=self.scores[idx],
            costs=self.costs[idx], groups=self.groups[idx], cost_unit=self.cost_unit, meta=self.meta,
            datasets=tuple(self.datasets[i] for i in ii) if self.datasets else (),
        )

    @classmethod
    def from_rows(cls, rows: Sequence[Outcome], tiers: Sequence[str] | None = None,
                  tier_costs: Mapping[str, float] | None = None) -> OutcomeTable:
        """Pivot rows. Tier order: ``tiers`` if given; else by mean ``cost_usd`` when every row has
        one; else by mean score (the weaker tier is taken as the cheaper one). Cost per answer:
        ``tier_costs`` if given; else ``cost_usd`` when every row has one; else the tier's rank scaled
        to [0, 1] (for two tiers: the share of calls to the strong tier)."""
        by_tier: dict[str, list[Outcome]] = {}
        for r in rows:
            by_tier.setdefault(r.tier, []).append(r)
        have_cost = all(r.cost_usd is not None for r in rows)
        if tiers is None:
            def key(t: str) -> float:
                rs = by_tier[t]
                return float(np.mean([(r.cost_usd if have_cost else r.score) or 0.0 for r in rs]))
            order = tuple(sorted(by_tier, key=key))
        else:
            order = tuple(tiers)
            missing = [t for t in order if t not in by_tier]
            if missing:
                raise BadRequestError(f"no outcomes for tier(s) {', '.join(missing)}",
                                      hint=hint_for(missing, by_tier,
                                                    f"the file has tiers: {', '.join(sorted(by_tier))}"))
        if tier_costs is not None and any(t not in tier_costs for t in order):
            raise BadRequestError(f"tier costs must name every tier ({', '.join(order)})",
                                  hint="e.g. --tier-costs local=0,frontier=1")
        col = {t: j for j, t in enumerate(order)}
        units: dict[str, dict[str, list[Outcome]]] = {}
        first: dict[str, Outcome] = {}
        for r in rows:
            if r.tier not in col:
                continue
            units.setdefault(r.prompt_id, {}).setdefault(r.tier, []).append(r)
            first.setdefault(r.prompt_id, r)
        complete = [pid for pid, per in units.items() if len(per) == len(order)]
        n, k = len(complete), len(order)
        if n == 0:
            raise BadRequestError("no prompt has an outcome for every tier",
                                  hint=f"each prompt_id needs one row per tier ({', '.join(order)})")
        scores = np.zeros((n, k))
        costs = np.zeros((n, k))
        rank_cost = np.arange(k, dtype=np.float64) / max(k - 1, 1)
        for i, pid in enumerate(complete):
            for t, rs in units[pid].items():
                j = col[t]
                scores[i, j] = float(np.mean([r.score for r in rs]))  # repeated runs: mean
                if tier_costs is not None:
                    costs[i, j] = float(tier_costs[t])
                elif have_cost:
                    costs[i, j] = float(np.mean([r.cost_usd or 0.0 for r in rs]))
                else:
                    costs[i, j] = rank_cost[j]
        prompts = tuple(first[p].prompt for p in complete)
        gid: dict[str, int] = {}
        groups = np.array([gid.setdefault(p, len(gid)) for p in prompts], dtype=np.int64)
        unit = "usd" if (tier_costs is None and have_cost) else ("given" if tier_costs else "tier-rank")
        return cls(prompt_ids=tuple(complete), prompts=prompts, tasks=tuple(first[p].task for p in complete),
                   tiers=order, scores=scores, costs=costs, groups=groups, cost_unit=unit,
                   dropped=len(units) - n, datasets=tuple(first[p].dataset for p in complete))
