"""Synthetic request-log rows and a checker that compares store aggregates with the raw rows."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Any

import pytest

from smallfirst.core.types import Attempt, RequestRecord, Usage
from smallfirst.store.rollup import bucket_of

T0 = 1_700_000_000.0  # 22:13:20 UTC: ranges starting here are mid-hour


def make_record(i: int, rng: random.Random, t0: float = T0, span_s: float = 4 * 3600) -> RequestRecord:
    tier = rng.choice(["local"] * 7 + ["mid"] * 2 + ["frontier"] + [None])
    status = 200 if tier else rng.choice([400, 404, 503])
    esc: tuple[str, ...] = ()
    attempts: list[Attempt] = []
    if tier in ("mid", "frontier") and rng.random() < 0.5:
        esc = ("local->mid",) if tier == "mid" else ("local->mid", "mid->frontier")
        for step in esc:
            lower = step.split("->")[0]
            attempts.append(Attempt(lower, "m-" + lower, "e", rng.choice(["upstream_timeout", "contract_failed"]), 3))
    pt, ct = rng.randint(1, 900), rng.randint(0, 300)
    cost = 0.0 if tier in (None, "local") else round(pt * 1e-6 + ct * 4e-6, 9)
    if tier:
        attempts.append(Attempt(tier, "m-" + tier, "e", "ok", 5.0, cost, Usage(pt, ct)))
    lat = rng.lognormvariate(4, 1)
    stream = rng.random() < 0.3
    return RequestRecord(
        request_id=f"req-{i}", ts=t0 + rng.random() * span_s, requested_model="smallfirst/auto", tier=tier,
        model=f"m-{tier}" if tier else None, endpoint="e" if tier else None, status=status,
        error_code=None if tier else "x", reason="test", escalations=esc, attempts=tuple(attempts),
        prompt_tokens=pt if tier else 0, completion_tokens=ct if tier else 0, cost_usd=cost, latency_ms=lat,
        ttft_ms=lat / 3 if stream and tier else None, stream=stream,
        task_type=rng.choice(["classify", "extract", "chat"]),
        sensitive=rng.choice([(), (), (), ("pii",), ("pii", "secret")]),
    )


def facet(s: dict[str, Any], dim: str) -> dict[tuple[str, str], list[Any]]:
    return {(f[1], f[2]): f[3:] for f in s["facets"] if f[0] == dim}


def check_against_log(s: dict[str, Any], rows: list[RequestRecord]) -> None:
    """Every aggregate equals what the raw rows say."""
    by_status = facet(s, "status")
    want: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0, 0])
    for r in rows:
        w = want[(r.tier or "", str(r.status))]
        w[0] += 1
        w[1] += r.cost_usd
        w[2] += r.prompt_tokens
        w[3] += r.completion_tokens
    assert set(by_status) == set(want)
    for k, w in want.items():
        got = by_status[k]
        assert got[0] == w[0] and got[2] == w[2] and got[3] == w[3]
        assert got[1] == pytest.approx(w[1], rel=1e-9, abs=1e-12)
    assert sum(x[3] for x in s["series"]) == len(rows)
    assert {k: v[0] for k, v in facet(s, "task").items()} == dict(Counter((r.tier or "", r.task_type) for r in rows))
    esc: Counter[tuple[str, str]] = Counter()
    for r in rows:
        for step in r.escalations:
            lower = step.split("->")[0]
            reason = [a.outcome for a in r.attempts if a.tier == lower][-1]
            esc[(r.tier or "", f"{step}|{reason}")] += 1
    assert {k: v[0] for k, v in facet(s, "esc").items()} == dict(esc)
    sens = Counter((r.tier or "", c) for r in rows for c in r.sensitive)
    assert {k: v[0] for k, v in facet(s, "sens").items()} == dict(sens)
    reached = Counter((r.tier or "", ",".join(sorted({a.tier for a in r.attempts} | {r.tier or ""} - {""})))
                      for r in rows if r.sensitive)
    assert {k: v[0] for k, v in facet(s, "sensreq").items()} == dict(reached)
    lat = Counter((r.tier, str(bucket_of(r.latency_ms))) for r in rows if r.tier and r.status == 200)
    assert {k: v[0] for k, v in facet(s, "lat").items()} == dict(lat)
    ttft = Counter((r.tier or "", str(bucket_of(r.ttft_ms))) for r in rows if r.ttft_ms is not None)
    assert {k: v[0] for k, v in facet(s, "ttft").items()} == dict(ttft)
