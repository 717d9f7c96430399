"""Rollup.extend's one-window shortcut gives exactly the cells of adding record by record."""

from __future__ import annotations

import random

from smallfirst.core.types import Attempt, RequestRecord, Usage
from smallfirst.store.rollup import Rollup, rows_for


def _record(rng: random.Random, ts: float) -> RequestRecord:
    tier = rng.choice(["local", "cloud", None])
    esc = ("local->cloud",) if rng.random() < 0.2 else ()
    return RequestRecord(
        request_id=f"r{rng.random()}", ts=ts, requested_model="smallfirst/auto", tier=tier, model=tier and "m",
        endpoint="e", status=rng.choice([200, 200, 200, 429, 502]), error_code=None, reason="r",
        escalations=esc,
        attempts=(Attempt("local", "m", "e", rng.choice(["ok", "timeout"]), 1.0, 0.0, Usage(1, 1)),),
        prompt_tokens=rng.randint(0, 900), completion_tokens=rng.randint(0, 900), cost_usd=rng.random() / 7,
        latency_ms=rng.random() * 3000, ttft_ms=rng.random() * 300 if rng.random() < 0.3 else None,
        stream=False, task_type=rng.choice(["chat", "math", None]),
        sensitive=("pii",) if rng.random() < 0.1 else (),
    )


def _one_by_one(records: list[RequestRecord]) -> list[tuple[object, ...]]:
    roll = Rollup()
    for r in records:
        roll.add(r)
    return roll.rows()


def test_same_window_batches_match_record_by_record() -> None:
    rng = random.Random(3)
    for _ in range(50):
        base = 1_700_000_000 // 3600 * 3600 + rng.randint(0, 3540)
        records = [_record(rng, base + rng.random() * 59.99) for _ in range(rng.randint(1, 300))]
        records = [r for r in records if int(r.ts // 60) == int(base // 60)]
        assert rows_for(records) == _one_by_one(records)  # float sums equal bit for bit


def test_batches_across_windows_match_record_by_record() -> None:
    rng = random.Random(4)
    for _ in range(30):
        base = 1_700_000_000 + rng.random() * 10_000
        records = [_record(rng, base + rng.random() * 7200) for _ in range(rng.randint(2, 200))]
        assert rows_for(records) == _one_by_one(records)
        assert Rollup().extend(iter(records)).rows() == _one_by_one(records)


def test_extend_on_top_of_earlier_cells_adds_to_them() -> None:
    rng = random.Random(5)
    first = [_record(rng, 1_700_000_000.5) for _ in range(20)]
    second = [_record(rng, 1_700_000_001.5) for _ in range(20)]
    assert Rollup().extend(first).extend(second).rows() == _one_by_one(first + second)
