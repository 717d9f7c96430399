"""Both request-log stores (SQLite and a real PostgreSQL) behind the one Store protocol."""

from __future__ import annotations

import math
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from smallfirst.core.errors import BadRequestError
from smallfirst.core.types import RequestRecord
from smallfirst.store.rollup import bucket_mid, bucket_of
from tests.helpers.logdata import T0, check_against_log, make_record

StoreFactory = Callable[..., Any]


def test_round_trip(make_store: StoreFactory) -> None:
    store = make_store(flush_interval_s=0.05)
    rng = random.Random(1)
    rows = [make_record(i, rng) for i in range(50)]
    for r in rows:
        store.record(r)
    store.flush()
    assert store.query() == sorted(rows, key=lambda r: r.ts)
    assert store.query(limit=3) == sorted(rows, key=lambda r: r.ts)[:3]


@pytest.mark.parametrize(("since_off", "until_off", "bucket_s"), [
    (-60.0, 5 * 3600.0, 3600),  # hour cells inside, ten-minute and minute cells towards both edges
    (1234.5, 2 * 3600 + 77.0, 300),  # 5-minute buckets: series from minute cells only
    (-60.0, 5 * 3600.0, 600),
    (-60.0, 5 * 3600.0, 60),
])
def test_summary_matches_the_raw_log(make_store: StoreFactory, since_off: float, until_off: float,
                                     bucket_s: int) -> None:
    store = make_store(batch_size=37)
    rng = random.Random(2)
    rows = [make_record(i, rng) for i in range(1500)]
    for r in rows:
        store.record(r)
    store.flush()
    since, until = T0 + since_off, T0 + until_off
    s = store.summary(since=since, until=until, bucket_s=bucket_s)
    lo, hi = math.floor(since / 60) * 60, math.ceil(until / 60) * 60
    assert (s["since"], s["until"], s["bucket_s"]) == (lo, hi, bucket_s)
    inside = [r for r in rows if lo <= r.ts < hi]
    assert 0 < len(inside) <= len(rows)
    check_against_log(s, inside)
    per_bucket = Counter((int(r.ts // bucket_s) * bucket_s, r.tier or "") for r in inside)
    got: Counter[tuple[int, str]] = Counter()
    for t, tier, _status, n, *_ in s["series"]:
        got[(t, tier)] += n
    assert got == per_bucket


def test_empty_range_and_bad_bucket(make_store: StoreFactory) -> None:
    store = make_store()
    s = store.summary(since=T0, until=T0 + 3600, bucket_s=60)
    assert s["series"] == [] and s["facets"] == []
    with pytest.raises(BadRequestError, match="multiple of 60"):
        store.summary(since=T0, until=T0 + 3600, bucket_s=90)
    with pytest.raises(BadRequestError, match="empty"):
        store.summary(since=T0, until=T0, bucket_s=60)


def test_two_replicas_share_one_log(make_store: StoreFactory) -> None:
    """Two stores on one database (two gateway replicas) writing at once: nothing lost or double counted."""
    a, b = make_store(batch_size=16), make_store(batch_size=16)
    rng = random.Random(3)
    rows = [make_record(i, rng) for i in range(1200)]

    def write(store: Any, part: list[RequestRecord]) -> None:
        for r in part:
            store.record(r)

    ts = [threading.Thread(target=write, args=(st, rows[k::2])) for k, st in enumerate((a, b))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    a.flush()
    b.flush()
    assert a.count() == b.count() == 1200
    check_against_log(a.summary(since=T0 - 60, until=T0 + 5 * 3600, bucket_s=3600), rows)


def test_histogram_midpoint_is_within_five_percent() -> None:
    for ms in (0.05, 1.0, 7.3, 123.4, 9999.0, 61234.0):
        assert abs(bucket_mid(bucket_of(ms)) - ms) / ms < 0.045


def test_cover_uses_the_coarsest_cells_that_fit() -> None:
    from smallfirst.store.summary import cover

    # 22:13 → 01:47 UTC: minutes to 22:20, ten-minute cells to 23:00, hours to 01:00, ten-minute cells to 01:40,
    # minutes to 01:47
    a = 1_700_000_000 - 20
    b = a + 3 * 3600 + 34 * 60
    parts = cover(a, b, [3600, 600, 60])
    assert parts == [(60, a, 1_700_000_400), (600, 1_700_000_400, 1_700_002_800), (3600, 1_700_002_800, 1_700_010_000),
                     (600, 1_700_010_000, 1_700_012_400), (60, 1_700_012_400, b)]
    assert all(parts[i][2] == parts[i + 1][1] for i in range(len(parts) - 1))
    assert cover(a, a + 120, [3600, 600, 60]) == [(60, a, a + 120)]
    assert cover(a, a, [3600, 600, 60]) == []
