"""Pre-aggregated request counts (rollups), written with the raw rows in the same transaction.

The admin summary reads these instead of scanning the request log, so it costs the same over
1,000 rows or 100,000,000. Every record adds to cells keyed by ``(res, t, dim, tier, key)``:

- ``res`` is the resolution in seconds (60, 600 and 3600) and ``t`` the start of that minute / ten
  minutes / hour;
- ``dim`` says what ``key`` is: the HTTP status, the task type, the model, a latency or TTFT
  histogram bucket, an escalation step with its reason, a sensitive data class, or a request-level
  flag (escalated / sensitive);
- ``tier`` is the tier that answered (``""`` when none did).

Each cell holds a count and sums of cost, tokens and latency. Increments are idempotent to
combine (``n = n + excluded.n``), so several gateway replicas can share one database.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from smallfirst.core.types import RequestRecord

RESOLUTIONS: tuple[int, ...] = (60, 600, 3600)  # each divides the next

DIM_STATUS = "status"  # key: HTTP status; every request
DIM_TASK = "task"  # key: task type
DIM_MODEL = "model"  # key: answering model
DIM_LATENCY = "lat"  # key: latency histogram bucket; status-200 requests with a tier
DIM_TTFT = "ttft"  # key: time-to-first-token histogram bucket; streams
DIM_ESCALATION = "esc"  # key: "from->to|reason", one per escalation step
DIM_ESCALATED = "escreq"  # key: ""; requests with at least one escalation
DIM_SENSITIVE = "sens"  # key: data class; one per class per request
DIM_SENSITIVE_REQ = "sensreq"  # key: the tiers it reached (attempts and answer, "a,b"); sensitive requests

# Log-spaced histogram: 8 buckets per doubling, so a bucket's midpoint is within ±4.4 % of any value in it.
BUCKETS_PER_DOUBLING = 8
_MIN_MS = 0.001

COLUMNS = ("res", "t", "dim", "tier", "key", "n", "cost_usd", "prompt_tokens", "completion_tokens", "latency_ms")

UPSERT = (
    f"INSERT INTO request_rollup ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    "ON CONFLICT (res, t, dim, tier, key) DO UPDATE SET "
    "n = request_rollup.n + excluded.n, "
    "cost_usd = request_rollup.cost_usd + excluded.cost_usd, "
    "prompt_tokens = request_rollup.prompt_tokens + excluded.prompt_tokens, "
    "completion_tokens = request_rollup.completion_tokens + excluded.completion_tokens, "
    "latency_ms = request_rollup.latency_ms + excluded.latency_ms"
)

Key = tuple[int, int, str, str, str]


def bucket_of(ms: float) -> int:
    """Histogram bucket index of a duration in milliseconds."""
    return math.floor(math.log2(max(ms, _MIN_MS)) * BUCKETS_PER_DOUBLING)


def bucket_mid(index: int) -> float:
    """The geometric midpoint (ms) of a histogram bucket."""
    return float(2.0 ** ((index + 0.5) / BUCKETS_PER_DOUBLING))


def escalation_reasons(r: RequestRecord) -> list[tuple[str, str]]:
    """``(step, reason)`` per escalation step; the reason is the outcome of the last attempt on the lower tier."""
    out: list[tuple[str, str]] = []
    for step in r.escalations:
        lower = step.split("->", 1)[0]
        reason = "unknown"
        for a in r.attempts:
            if a.tier == lower and a.outcome != "ok":
                reason = a.outcome
        out.append((step, reason))
    return out


@dataclass(slots=True)
class Cell:
    n: int = 0
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0


class Rollup:
    """Cells accumulated from a batch of records, ready to upsert."""

    def __init__(self) -> None:
        self.cells: dict[Key, Cell] = {}

    def _add(self, res: int, t: int, dim: str, tier: str, key: str, r: RequestRecord | None) -> None:
        cell = self.cells.get((res, t, dim, tier, key))
        if cell is None:
            cell = self.cells[(res, t, dim, tier, key)] = Cell()
        cell.n += 1
        if r is not None:
            cell.cost_usd += r.cost_usd
            cell.prompt_tokens += r.prompt_tokens
            cell.completion_tokens += r.completion_tokens
            cell.latency_ms += r.latency_ms

    def add(self, r: RequestRecord) -> None:
        tier = r.tier or ""
        lat = str(bucket_of(r.latency_ms)) if r.status == 200 and r.tier else None
        ttft = str(bucket_of(r.ttft_ms)) if r.ttft_ms is not None and r.tier else None
        esc = escalation_reasons(r)
        classes = sorted(set(r.sensitive))
        reached = ",".join(sorted({a.tier for a in r.attempts} | ({r.tier} if r.tier else set()))) if classes else ""
        for res in RESOLUTIONS:
            t = int(r.ts // res) * res
            self._add(res, t, DIM_STATUS, tier, str(r.status), r)
            if r.task_type:
                self._add(res, t, DIM_TASK, tier, r.task_type, r)
            if r.model:
                self._add(res, t, DIM_MODEL, tier, r.model, r)
            if lat is not None:
                self._add(res, t, DIM_LATENCY, tier, lat, None)
            if ttft is not None:
                self._add(res, t, DIM_TTFT, tier, ttft, None)
            for step, reason in esc:
                self._add(res, t, DIM_ESCALATION, tier, f"{step}|{reason}", None)
            if esc:
                self._add(res, t, DIM_ESCALATED, tier, "", r)
            for c in classes:
                self._add(res, t, DIM_SENSITIVE, tier, c, None)
            if classes:
                self._add(res, t, DIM_SENSITIVE_REQ, tier, reached, r)

    def extend(self, records: Iterable[RequestRecord]) -> Rollup:
        for r in records:
            self.add(r)
        return self

    def rows(self) -> list[tuple[Any, ...]]:
        """Upsert parameters, sorted by key so concurrent writers lock cells in the same order."""
        return [(*k, c.n, c.cost_usd, c.prompt_tokens, c.completion_tokens, c.latency_ms)
                for k, c in sorted(self.cells.items())]


def rows_for(records: Sequence[RequestRecord]) -> list[tuple[Any, ...]]:
    return Rollup().extend(records).rows()


def backfill(fetch: Callable[[int], list[tuple[Any, ...]]], upsert: Callable[[list[tuple[Any, ...]]], None]) -> int:
    """Roll up rows already in the log (a migration step): ``fetch(after_id)`` returns the next batch of
    ``(id, *codec.COLUMNS)`` rows in id order; ``upsert`` writes cells. Returns the number of rows read."""
    from smallfirst.store.codec import from_row

    last, total = 0, 0
    while rows := fetch(last):
        upsert(Rollup().extend(from_row(tuple(r[1:])) for r in rows).rows())
        last, total = int(rows[-1][0]), total + len(rows)
    return total
