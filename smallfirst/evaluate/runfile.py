"""A run folder: what was asked (``run.json``, ``tasks.jsonl``) and what came back (``results.jsonl``,
one row per finished (task, target), appended and flushed as each finishes).

Resuming reads ``results.jsonl``; a (task, target) pair is done when its last row is final (an answer,
or an error that retrying cannot fix) and was made for the task's current content (``task_hash``).
A line cut short by a killed process is dropped before appending. Later rows for a pair supersede
earlier ones, so nothing is ever rewritten in place.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from smallfirst.core.errors import BadRequestError
from smallfirst.evaluate.tasks import Task
from smallfirst.routing.outcomes import Outcome

RUN_FORMAT = "smallfirst-eval-run"
RUN_VERSION = 1


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """One model endpoint of one tier, as evaluated."""

    key: str  # "tier/endpoint"
    tier: str
    model: str
    endpoint: str
    local: bool
    price_input_per_mtok: float | None  # None: price unknown (cost counted as 0)
    price_output_per_mtok: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> TargetInfo:
        def price(key: str) -> float | None:
            v = obj.get(key)
            return float(v) if isinstance(v, int | float) else None

        return cls(key=str(obj["key"]), tier=str(obj["tier"]), model=str(obj.get("model", "")),
                   endpoint=str(obj.get("endpoint", "")), local=bool(obj.get("local")),
                   price_input_per_mtok=price("price_input_per_mtok"),
                   price_output_per_mtok=price("price_output_per_mtok"))


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One (task, target) answered and scored, or failed."""

    task_id: str
    task_hash: str
    target: str
    tier: str
    model: str
    answer: str | None = None
    score: float | None = None
    scorer: str = ""
    detail: str | None = None
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    judge_cost_usd: float = 0.0
    confidence: float | None = None
    finish_reason: str | None = None
    error: str | None = None  # error code
    error_message: str | None = None
    final: bool = True
    tries: int = 1
    ts: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def effective_score(self) -> float:
        """The score, with a final failure counted as 0 (that tier could not answer)."""
        return self.score if self.score is not None else 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in _ROW_FIELDS:  # flat values: no deep copy (asdict would cost more than the rest of a row)
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ResultRow:
        return cls(**{k: obj[k] for k in cls.__dataclass_fields__ if k in obj})


_ROW_FIELDS = tuple(ResultRow.__dataclass_fields__)


@dataclass(frozen=True)
class Run:
    """A run as stored: its tiers (cheapest first), targets, task snapshot and current results."""

    path: Path
    tiers: tuple[str, ...]
    targets: tuple[TargetInfo, ...]
    tasks: tuple[Task, ...]
    rows: dict[tuple[str, str], ResultRow]  # (task_id, target) → last row made for the current task
    meta: dict[str, Any]

    def final_rows(self) -> list[ResultRow]:
        return [r for r in self.rows.values() if r.final]

    def target(self, key: str) -> TargetInfo:
        for t in self.targets:
            if t.key == key:
                return t
        raise BadRequestError(f"run {str(self.path)!r} has no target {key!r}",
                              hint=f"its targets: {', '.join(t.key for t in self.targets)}")

    def outcomes(self, dataset: str | None = None) -> list[Outcome]:
        """The router's training rows: one per task and target with a final result (a failure scores 0)."""
        by_id = {t.id: t for t in self.tasks}
        out: list[Outcome] = []
        for t in self.tasks:
            for tg in self.targets:
                r = self.rows.get((t.id, tg.key))
                if r is None or not r.final:
                    continue
                task = by_id[r.task_id]
                score = min(1.0, max(0.0, r.effective_score))
                out.append(Outcome(
                    prompt_id=task.id, prompt=task.prompt_text, tier=r.tier, score=score,
                    model=r.model, cost_usd=r.cost_usd, prompt_tokens=r.prompt_tokens if r.ok else None,
                    completion_tokens=r.completion_tokens if r.ok else None, confidence=r.confidence, task=task.type,
                    dataset=task.dataset or dataset or self.meta.get("dataset")))
        return out


class RunDir:
    """Reads and appends one run folder."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.meta_path = self.path / "run.json"
        self.tasks_path = self.path / "tasks.jsonl"
        self.results_path = self.path / "results.jsonl"
        self.outcomes_path = self.path / "outcomes.jsonl"
        self.report_path = self.path / "report.html"

    def exists(self) -> bool:
        return self.meta_path.is_file()

    def read_meta(self) -> dict[str, Any]:
        if not self.exists():
            raise BadRequestError(f"{str(self.path)!r} is not an eval run (no run.json)",
                                  hint="pass the folder `smallfirst eval` wrote (its --run option)")
        try:
            meta: dict[str, Any] = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except ValueError as err:
            raise BadRequestError(f"{self.meta_path}: not valid JSON ({err})") from None
        if meta.get("format") != RUN_FORMAT or meta.get("version") != RUN_VERSION:
            raise BadRequestError(f"{self.meta_path}: not a {RUN_FORMAT} v{RUN_VERSION} file")
        return meta

    def prepare(self, tasks: Sequence[Task], tiers: Sequence[str], targets: Sequence[TargetInfo],
                extra: dict[str, Any]) -> None:
        """Create or update the folder for a (re)started run; earlier targets are kept."""
        self.path.mkdir(parents=True, exist_ok=True)
        old = self.read_meta() if self.exists() else {}
        keep = [TargetInfo.from_json(t) for t in old.get("targets", [])]
        new_keys = {t.key for t in targets}
        merged = [*targets, *(t for t in keep if t.key not in new_keys)]
        order = list(tiers) + [t for t in old.get("tiers", []) if t not in tiers]
        meta = {"format": RUN_FORMAT, "version": RUN_VERSION, "created": old.get("created", time.time()),
                "updated": time.time(), "tiers": order, "targets": [t.to_json() for t in merged], **extra}
        _write_atomic(self.meta_path, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
        _write_atomic(self.tasks_path, "".join(json.dumps(t.to_json(), ensure_ascii=False) + "\n" for t in tasks))
        self.repair()

    def repair(self) -> int:
        """Drop a trailing partial line (a killed writer); returns the bytes removed."""
        p = self.results_path
        if not p.is_file():
            return 0
        data = p.read_bytes()
        if not data or data.endswith(b"\n"):
            return 0
        keep = data.rfind(b"\n") + 1
        with p.open("r+b") as fh:
            fh.truncate(keep)
        return len(data) - keep

    def read_rows(self) -> list[ResultRow]:
        if not self.results_path.is_file():
            return []
        rows: list[ResultRow] = []
        with self.results_path.open(encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        last = len(lines) - 1
        for n, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                rows.append(ResultRow.from_json(json.loads(raw)))
            except (ValueError, TypeError) as err:
                if n - 1 == last:  # a cut-off last line from a killed run: ignored, repaired on resume
                    continue
                raise BadRequestError(f"{self.results_path} line {n}: not a result row ({err})",
                                      hint="the file is written by `smallfirst eval`; do not edit it") from None
        return rows

    @contextmanager
    def appender(self) -> Iterator[IO[str]]:
        self.path.mkdir(parents=True, exist_ok=True)
        with self.results_path.open("a", encoding="utf-8") as fh:
            yield fh

    @staticmethod
    def append(fh: IO[str], row: ResultRow) -> None:
        fh.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
        fh.flush()

    def load(self) -> Run:
        meta = self.read_meta()
        tasks = tuple(Task.from_json(json.loads(line)) for line in
                      self.tasks_path.read_text(encoding="utf-8").splitlines() if line.strip())
        current = {t.id: t.hash for t in tasks}
        rows: dict[tuple[str, str], ResultRow] = {}
        for r in self.read_rows():
            if current.get(r.task_id) == r.task_hash:
                rows[(r.task_id, r.target)] = r
        targets = tuple(TargetInfo.from_json(t) for t in meta.get("targets", []))
        order = {name: i for i, name in enumerate(meta.get("tiers", []))}
        targets = tuple(sorted(targets, key=lambda t: order.get(t.tier, len(order))))
        return Run(self.path, tuple(meta.get("tiers", [])), targets, tasks, rows, meta)


def load_run(path: str | Path) -> Run:
    return RunDir(path).load()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
