"""Pre-aggregated request counts (rollups), written with the raw rows in the same transaction.

The admin summary reads these instead of scanning the request log, so it costs the same over
1,000 rows or 100,000,000. Every record adds to cells keyed by ``(res, t, dim, tier, key)``:

- ``res`` is the resolution in seconds (60, 600 and 3600) and ``t`` the start of that minute / ten
  minutes / hour;
- ``dim`` says what ``key`` is: the HTTP status, the task type, the model, a latency or TTFT
  histogram bucket, an escalation step with its reason, a sensitive data class, where a sensitive
  request's data went (``egress``, from each attempt's logged location), or a request-level flag
  (escalated / sensitive);
- ``tier`` is the tier that answered (``""`` when none did).

The ``localcost`` cells sum each record's ``local_cost_usd`` (own hardware + energy) in their cost field;
every other cell's cost is API spend (``cost_usd``).

Each cell holds a count and sums of cost, tokens and latency. Increments are idempotent to
combine (``n = n + excluded.n``), so several gateway replicas can share one database.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
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
DIM_EGRESS = "egress"  # key: egress_of(record); sensitive requests (from logged locations, not today's config)
DIM_ERROR = "err"  # key: "tier|endpoint|code" of a failed request (its last attempt; "||code" before routing)
# key: ""; requests with a local (own hardware) cost, whose cost_usd sum here is that local cost, not API spend
DIM_LOCAL_COST = "localcost"

EGRESS_LOCAL = "local"  # every attempt went to a local endpoint
EGRESS_REDACTED = "redacted"  # left the host, every non-local attempt masked
EGRESS_UNREDACTED = "unredacted"  # left the host, at least one non-local attempt sent as is
EGRESS_UNVERIFIED = "unverified"  # stayed local as far as the log says, but an attempt has no logged location
EGRESS_KEYS = (EGRESS_LOCAL, EGRESS_REDACTED, EGRESS_UNREDACTED, EGRESS_UNVERIFIED)

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


def egress_of(r: RequestRecord) -> str:
    """Where a request's data went, from each attempt's logged ``location`` and ``redacted`` (one of
    ``EGRESS_KEYS``): a non-local attempt sent as is makes it ``unredacted``; non-local attempts that were
    all masked make it ``redacted``; otherwise an attempt logged without a location (rows from before
    locations were logged) makes it ``unverified``, and else it is ``local``."""
    out = EGRESS_LOCAL
    for a in r.attempts:
        loc = a.location
        if loc == "local":
            continue
        if not loc:
            if out == EGRESS_LOCAL:
                out = EGRESS_UNVERIFIED
        elif a.redacted is None:
            return EGRESS_UNREDACTED
        else:
            out = EGRESS_REDACTED
    return out


def _items(r: RequestRecord) -> list[tuple[str, str, bool]]:
    """The ``(dim, key, with sums)`` cells one record adds to at each resolution."""
    items: list[tuple[str, str, bool]] = [(DIM_STATUS, str(r.status), True)]
    if r.task_type:
        items.append((DIM_TASK, r.task_type, True))
    if r.model:
        items.append((DIM_MODEL, r.model, True))
    if r.status == 200 and r.tier:
        items.append((DIM_LATENCY, str(bucket_of(r.latency_ms)), False))
    if r.ttft_ms is not None and r.tier:
        items.append((DIM_TTFT, str(bucket_of(r.ttft_ms)), False))
    if r.escalations:
        items.extend((DIM_ESCALATION, f"{step}|{reason}", False) for step, reason in escalation_reasons(r))
        items.append((DIM_ESCALATED, "", True))
    if r.status >= 400:
        items.append((DIM_ERROR, error_key(r), False))
    if r.sensitive:
        items.extend((DIM_SENSITIVE, c, False) for c in sorted(set(r.sensitive)))
        reached = {a.tier for a in r.attempts} | ({r.tier} if r.tier else set())
        items.append((DIM_SENSITIVE_REQ, ",".join(sorted(reached)), True))
        items.append((DIM_EGRESS, egress_of(r), False))
    return items


def error_key(r: RequestRecord) -> str:
    """``tier|endpoint|code`` of a failed request: where its last attempt went (empty before routing) and
    its error code (the HTTP status when it has none)."""
    last = r.attempts[-1] if r.attempts else None
    tier = last.tier if last else (r.tier or "")
    endpoint = last.endpoint if last else (r.endpoint or "")
    return f"{tier}|{endpoint}|{r.error_code or r.status}"


def egress_items(r: RequestRecord) -> list[tuple[str, str, bool]]:
    """Only the ``egress`` cell (the migration that adds it to rows logged before)."""
    return [(DIM_EGRESS, egress_of(r), False)] if r.sensitive else []


Items = Callable[[RequestRecord], list[tuple[str, str, bool]]]


def _starts(ts: float) -> tuple[int, ...]:
    return tuple([int(ts // res) * res for res in RESOLUTIONS])


class Rollup:
    """Cells accumulated from a batch of records, ready to upsert.

    A cell is ``[n, cost_usd, prompt_tokens, completion_tokens, latency_ms]``; the per-record cell list
    is built once and added at every resolution (this runs on the log writer thread for every row).
    """

    def __init__(self, items: Items = _items) -> None:
        self.cells: dict[Key, list[float]] = {}
        self._items = items
        self._local = items is _items  # a partial backfill (egress_items) adds no local-cost cells

    def add(self, r: RequestRecord) -> None:
        tier = r.tier or ""
        items = self._items(r)
        cost, pt, ct, lat = r.cost_usd, r.prompt_tokens, r.completion_tokens, r.latency_ms
        cells = self.cells
        for res in RESOLUTIONS:
            t = int(r.ts // res) * res
            for dim, key, sums in items:
                k = (res, t, dim, tier, key)
                c = cells.get(k)
                if c is None:
                    cells[k] = [1, cost, pt, ct, lat] if sums else [1, 0.0, 0, 0, 0.0]
                elif sums:
                    c[0] += 1
                    c[1] += cost
                    c[2] += pt
                    c[3] += ct
                    c[4] += lat
                else:
                    c[0] += 1
        if r.local_cost_usd and self._local:
            for res in RESOLUTIONS:
                _add_local(cells, (res, int(r.ts // res) * res, DIM_LOCAL_COST, tier, ""), r)

    def extend(self, records: Iterable[RequestRecord]) -> Rollup:
        recs = records if isinstance(records, list) else list(records)
        if not self.cells and recs:
            starts = _starts(recs[0].ts)
            if all(_starts(r.ts) == starts for r in recs):
                self._extend_one_window(recs, starts)
                return self
        for r in recs:
            self.add(r)
        return self

    def _extend_one_window(self, recs: list[RequestRecord], starts: tuple[int, ...]) -> None:
        """Every record falls in the same cell at each resolution (the usual batch: well under a minute),
        so each resolution's cells get the same additions in the same order: accumulate once, copy."""
        acc: dict[tuple[str, str, str], list[float]] = {}
        items = self._items
        for r in recs:
            tier = r.tier or ""
            for dim, key, sums in items(r):
                k = (dim, tier, key)
                c = acc.get(k)
                if c is None:
                    acc[k] = [1, r.cost_usd, r.prompt_tokens, r.completion_tokens, r.latency_ms] if sums \
                        else [1, 0.0, 0, 0, 0.0]
                elif sums:
                    c[0] += 1
                    c[1] += r.cost_usd
                    c[2] += r.prompt_tokens
                    c[3] += r.completion_tokens
                    c[4] += r.latency_ms
                else:
                    c[0] += 1
            if r.local_cost_usd and self._local:
                _add_local(acc, (DIM_LOCAL_COST, tier, ""), r)
        for res, t in zip(RESOLUTIONS, starts, strict=True):
            for (dim, tier, key), c in acc.items():
                self.cells[(res, t, dim, tier, key)] = list(c)

    def rows(self) -> list[tuple[Any, ...]]:
        """Upsert parameters, sorted by key so concurrent writers lock cells in the same order."""
        return [(*k, int(c[0]), c[1], int(c[2]), int(c[3]), c[4]) for k, c in sorted(self.cells.items())]


def _add_local(cells: dict[Any, list[float]], k: Any, r: RequestRecord) -> None:
    """A ``localcost`` cell: count, local cost, tokens and latency of a record with a local cost."""
    c = cells.get(k)
    if c is None:
        cells[k] = [1, r.local_cost_usd, r.prompt_tokens, r.completion_tokens, r.latency_ms]
    else:
        c[0] += 1
        c[1] += r.local_cost_usd
        c[2] += r.prompt_tokens
        c[3] += r.completion_tokens
        c[4] += r.latency_ms


def rows_for(records: Sequence[RequestRecord]) -> list[tuple[Any, ...]]:
    return Rollup().extend(records).rows()


def backfill(fetch: Callable[[int], list[tuple[Any, ...]]], upsert: Callable[[list[tuple[Any, ...]]], None],
             items: Items = _items) -> int:
    """Roll up rows already in the log (a migration step): ``fetch(after_id)`` returns the next batch of
    ``(id, *codec.COLUMNS)`` rows in id order; ``upsert`` writes cells (all of a record's, or only those
    ``items`` gives). Returns the number of rows read."""
    from smallfirst.store.codec import from_row

    last, total = 0, 0
    while rows := fetch(last):
        upsert(Rollup(items).extend(from_row(tuple(r[1:])) for r in rows).rows())
        last, total = int(rows[-1][0]), total + len(rows)
    return total
