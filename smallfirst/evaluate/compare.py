"""Compare two runs task by task (e.g. the base vs the fine-tuned local model): B against A.

    from smallfirst.evaluate.compare import compare
    c = compare("runs/base", "runs/tuned")          # each run's cheapest target by default
    c.wins, c.losses, c.ties, c.mean_delta, c.ci95  # B better / worse / equal; mean(B − A)
    c.passes(margin=0.02)                           # the fine-tune gate: B beats A by more than 2 points

Tasks are matched by id; a task whose content differs between the runs is left out (``changed``).
A task that failed for good on a target scores 0 there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from smallfirst.core.errors import BadRequestError
from smallfirst.evaluate.runfile import Run, load_run


@dataclass(frozen=True, slots=True)
class TaskDelta:
    task_id: str
    task_type: str
    score_a: float
    score_b: float

    @property
    def delta(self) -> float:
        return self.score_b - self.score_a


@dataclass(frozen=True, slots=True)
class TypeDelta:
    n: int
    wins: int
    losses: int
    ties: int
    mean_a: float
    mean_b: float

    @property
    def mean_delta(self) -> float:
        return self.mean_b - self.mean_a


@dataclass(frozen=True)
class Comparison:
    run_a: str
    run_b: str
    target_a: str
    target_b: str
    tasks: tuple[TaskDelta, ...]
    only_a: int = 0  # done in A only
    only_b: int = 0
    changed: int = 0  # same id, different content: not compared
    tolerance: float = 1e-9
    by_type: dict[str, TypeDelta] = field(default_factory=dict)

    def _count(self, sign: int) -> int:
        t = self.tolerance
        return sum(1 for d in self.tasks if (d.delta > t if sign > 0 else d.delta < -t if sign < 0 else
                                             abs(d.delta) <= t))

    @property
    def n(self) -> int:
        return len(self.tasks)

    @property
    def wins(self) -> int:
        """Tasks where B scores higher than A."""
        return self._count(1)

    @property
    def losses(self) -> int:
        return self._count(-1)

    @property
    def ties(self) -> int:
        return self._count(0)

    @property
    def mean_a(self) -> float:
        return float(np.mean([d.score_a for d in self.tasks])) if self.tasks else 0.0

    @property
    def mean_b(self) -> float:
        return float(np.mean([d.score_b for d in self.tasks])) if self.tasks else 0.0

    @property
    def mean_delta(self) -> float:
        return self.mean_b - self.mean_a

    @property
    def ci95(self) -> tuple[float, float]:
        """Paired bootstrap 95% interval of the mean delta (2,000 resamples, seed 0)."""
        if not self.tasks:
            return (0.0, 0.0)
        d = np.array([x.delta for x in self.tasks])
        rng = np.random.default_rng(0)
        means = d[rng.integers(0, len(d), size=(2000, len(d)))].mean(axis=1)
        return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))

    def passes(self, margin: float = 0.0) -> bool:
        """True when B beats A on average by more than ``margin`` (in score units, e.g. 0.02)."""
        return self.n > 0 and self.mean_delta > margin

    def to_json(self) -> dict[str, Any]:
        return {"run_a": self.run_a, "run_b": self.run_b, "target_a": self.target_a, "target_b": self.target_b,
                "n": self.n, "wins": self.wins, "losses": self.losses, "ties": self.ties, "mean_a": self.mean_a,
                "mean_b": self.mean_b, "mean_delta": self.mean_delta, "ci95": list(self.ci95),
                "only_a": self.only_a, "only_b": self.only_b, "changed": self.changed,
                "by_type": {k: {**asdict(v), "mean_delta": v.mean_delta} for k, v in self.by_type.items()},
                "tasks": [{**asdict(d), "delta": d.delta} for d in self.tasks]}


def resolve_target(run: Run, spec: str | None) -> str:
    """A target key from a key, a tier name with one target, or (None) the run's cheapest target."""
    if not run.targets:
        raise BadRequestError(f"run {str(run.path)!r} has no targets")
    if spec is None:
        return run.targets[0].key
    keys = [t.key for t in run.targets]
    if spec in keys:
        return spec
    in_tier = [t.key for t in run.targets if t.tier == spec]
    if len(in_tier) == 1:
        return in_tier[0]
    raise BadRequestError(f"run {str(run.path)!r}: {spec!r} names no single target",
                          hint=f"use one of: {', '.join(keys)}")


def compare(run_a: str | Path | Run, run_b: str | Path | Run, target_a: str | None = None,
            target_b: str | None = None, tolerance: float = 1e-9) -> Comparison:
    a = run_a if isinstance(run_a, Run) else load_run(run_a)
    b = run_b if isinstance(run_b, Run) else load_run(run_b)
    ka, kb = resolve_target(a, target_a), resolve_target(b, target_b)
    ra = {tid: r for (tid, k), r in a.rows.items() if k == ka and r.final}
    rb = {tid: r for (tid, k), r in b.rows.items() if k == kb and r.final}
    ta, tb = {t.id: t for t in a.tasks}, {t.id: t for t in b.tasks}
    deltas: list[TaskDelta] = []
    changed = 0
    for t in a.tasks:  # A's order
        if t.id not in ra or t.id not in rb:
            continue
        if ta[t.id].hash != tb[t.id].hash:
            changed += 1
            continue
        deltas.append(TaskDelta(t.id, t.type, ra[t.id].effective_score, rb[t.id].effective_score))
    if not deltas:
        raise BadRequestError(f"runs {str(a.path)!r} ({ka}) and {str(b.path)!r} ({kb}) share no finished task",
                              hint="run both on the same task file")
    by_type: dict[str, TypeDelta] = {}
    for ty in sorted({d.task_type for d in deltas}):
        ds = [d for d in deltas if d.task_type == ty]
        by_type[ty] = TypeDelta(len(ds), sum(d.delta > tolerance for d in ds), sum(d.delta < -tolerance for d in ds),
                                sum(abs(d.delta) <= tolerance for d in ds), float(np.mean([d.score_a for d in ds])),
                                float(np.mean([d.score_b for d in ds])))
    both = set(ra) & set(rb)
    return Comparison(str(a.path), str(b.path), ka, kb, tuple(deltas), only_a=len(set(ra) - both),
                      only_b=len(set(rb) - both), changed=changed, tolerance=tolerance, by_type=by_type)


def print_comparison(c: Comparison, show: int = 10) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    lo, hi = c.ci95
    t = Table(title=f"B = {c.run_b} [{c.target_b}]  vs  A = {c.run_a} [{c.target_a}]")
    for col in ("type", "n", "wins (B>A)", "losses", "ties", "mean A", "mean B", "Δ"):
        t.add_column(col, justify="left" if col == "type" else "right")
    for ty, td in c.by_type.items():
        t.add_row(ty, str(td.n), str(td.wins), str(td.losses), str(td.ties), f"{td.mean_a:.3f}", f"{td.mean_b:.3f}",
                  f"{td.mean_delta:+.3f}")
    t.add_row("[bold]all[/]", str(c.n), str(c.wins), str(c.losses), str(c.ties), f"{c.mean_a:.3f}",
              f"{c.mean_b:.3f}", f"[bold]{c.mean_delta:+.3f}[/]")
    con.print(t)
    con.print(f"mean Δ {c.mean_delta:+.3f} (95% CI {lo:+.3f} … {hi:+.3f}); "
              f"B wins {c.wins}, loses {c.losses}, ties {c.ties}")
    if c.only_a or c.only_b or c.changed:
        con.print(f"not compared: {c.only_a} done only in A, {c.only_b} only in B, {c.changed} changed between runs")
    moved = sorted((d for d in c.tasks if abs(d.delta) > c.tolerance), key=lambda d: d.delta)
    if moved and show > 0:
        lt = Table(title="largest losses and wins")
        for col in ("task", "type", "A", "B", "Δ"):
            lt.add_column(col, justify="left" if col in ("task", "type") else "right")
        picks = moved[:show] + [d for d in moved[-show:] if d not in moved[:show]]
        for d in picks:
            lt.add_row(d.task_id, d.task_type, f"{d.score_a:.3f}", f"{d.score_b:.3f}", f"{d.delta:+.3f}")
        con.print(lt)
