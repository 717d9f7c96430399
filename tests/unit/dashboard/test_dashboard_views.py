"""The admin overview computed from a real store summary, checked against the raw rows."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import pytest

from smallfirst.config.loader import parse
from smallfirst.core.errors import BadRequestError
from smallfirst.core.types import Price
from smallfirst.dashboard.views import (
    REFERENCE_FRONTIER,
    Baseline,
    View,
    baseline_for,
    choose_bucket,
    default_target,
    overview,
    parse_time,
    percentile,
    time_range,
)
from smallfirst.store.rollup import error_key
from smallfirst.store.sqlite import SQLiteStore
from tests.helpers.logdata import T0, make_record

PRICE = Price(2.0, 8.0, "test")
VIEW = View(("local", "mid", "frontier"), frozenset({"local"}), default_target(["local", "mid", "frontier"]),
            Baseline("frontier-x", PRICE))


def exact_percentile(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[max(1, math.ceil(p * len(v))) - 1]


def test_overview_agrees_with_the_log(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "log.db"))
    rng = random.Random(9)
    rows = [make_record(i, rng) for i in range(3000)]
    for r in rows:
        store.record(r)
    store.flush()
    o = overview(store.summary(since=T0, until=T0 + 5 * 3600, bucket_s=1800), VIEW)
    store.close()

    served = [r for r in rows if r.tier and r.status == 200]
    t = o["totals"]
    assert (t["requests"], t["served"], t["errors"]) == (len(rows), len(served), len(rows) - len(served))
    assert t["cost_usd"] == pytest.approx(sum(r.cost_usd for r in rows))
    assert t["escalated"] == sum(1 for r in rows if r.escalations)
    tokens_p, tokens_c = sum(r.prompt_tokens for r in rows), sum(r.completion_tokens for r in rows)
    assert o["cost"]["baseline_usd"] == pytest.approx((tokens_p * 2.0 + tokens_c * 8.0) / 1e6)
    assert o["cost"]["savings_usd"] == pytest.approx(o["cost"]["baseline_usd"] - t["cost_usd"], abs=1e-7)
    assert o["cost"]["baseline"]["model"] == "frontier-x"
    per_tier = Counter(r.tier for r in served)
    for tier in o["tiers"]:
        name = tier["name"]
        assert tier["requests"] == per_tier[name]
        assert tier["share"] == pytest.approx(per_tier[name] / len(served), abs=1e-6)
        lat = [r.latency_ms for r in served if r.tier == name]
        for p, key in ((0.5, "latency_p50_ms"), (0.95, "latency_p95_ms")):
            assert tier[key] == pytest.approx(exact_percentile(lat, p), rel=0.045)
    assert [tr["local"] for tr in o["tiers"]] == [True, False, False]
    assert sum(sum(p["served"].values()) for p in o["series"]) == len(served)
    assert sum(p["errors"] for p in o["series"]) == len(rows) - len(served)
    assert sum(p["baseline_cost_usd"] for p in o["series"]) == pytest.approx(o["cost"]["baseline_usd"])
    assert {x["task_type"]: x["count"] for x in o["task_types"]} == dict(Counter(r.task_type for r in rows))
    steps = Counter(s for r in rows for s in r.escalations)
    assert {x["step"]: x["count"] for x in o["escalations"]["steps"]} == dict(steps)
    sens = [r for r in rows if r.sensitive]
    assert o["residency"]["sensitive_requests"] == len(sens)
    # these rows' attempts carry no location (as rows logged before locations were): unverified, never
    # counted from today's tier config
    assert o["residency"]["left_host"] == 0
    assert o["residency"]["unverified"] == sum(1 for r in sens if r.attempts)
    failed = Counter(error_key(r) for r in rows if r.status >= 400)
    assert {f"{e['tier']}|{e['endpoint']}|{e['code']}": e["count"] for e in o["errors"]} == dict(failed)
    assert [e["count"] for e in o["errors"]] == sorted((e["count"] for e in o["errors"]), reverse=True)


def test_empty_log_gives_zeros_not_errors(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "log.db"))
    o = overview(store.summary(since=T0, until=T0 + 60, bucket_s=60), VIEW)
    store.close()
    assert o["totals"]["requests"] == 0 and o["series"] == []
    assert o["cost"]["savings_pct"] is None
    assert all(t["latency_p50_ms"] is None and t["share"] == 0.0 for t in o["tiers"])


def test_percentile_is_nearest_rank_on_buckets() -> None:
    assert percentile({}, 0.5) is None
    assert percentile({0: 1, 8: 1}, 0.5) == pytest.approx(2 ** (0.5 / 8), abs=1e-3)
    assert percentile({0: 1, 8: 1}, 0.51) == pytest.approx(2 ** (8.5 / 8), abs=1e-3)


def test_times_ranges_and_buckets() -> None:
    now = 1_750_000_000.0
    assert parse_time("24h", now=now, param="since") == now - 86400
    assert parse_time("90m", now=now, param="since") == now - 5400
    assert parse_time("1700000000", now=now, param="since") == 1_700_000_000.0
    assert parse_time("2023-11-14T22:13:20Z", now=now, param="since") == 1_700_000_000.0
    assert parse_time("2023-11-14T22:13:20", now=now, param="since") == 1_700_000_000.0
    with pytest.raises(BadRequestError, match="not a time"):
        parse_time("yesterday", now=now, param="since")
    assert time_range(None, None, None, now=now) == (now - 86400, now, 600)
    assert time_range("1h", None, None, now=now) == (now - 3600, now, 60)
    assert time_range("30d", None, "86400", now=now)[2] == 86400
    assert choose_bucket(7 * 86400) == 3 * 3600
    with pytest.raises(BadRequestError, match="multiple of 60"):
        time_range("1h", None, "90", now=now)
    with pytest.raises(BadRequestError, match="before"):
        time_range(str(now + 10), str(now), None, now=now)


def test_default_targets_sum_to_one() -> None:
    assert default_target(["local", "mid", "frontier"]) == {"local": 0.7, "mid": 0.2, "frontier": 0.1}
    assert default_target(["a"]) == {"a": 1.0}
    for n in range(2, 7):
        assert sum(default_target([str(i) for i in range(n)]).values()) == pytest.approx(1.0)


def test_baseline_price_from_the_top_tier_or_the_catalog() -> None:
    local_only = parse({"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]}]})
    b = baseline_for(local_only)
    assert b is not None and b.model == REFERENCE_FRONTIER and b.price.source.startswith("catalog")
    priced = parse({"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
                              {"name": "top", "endpoints": [{"backend": "openai", "model": "gpt-4o",
                                                             "api_key_env": "OPENAI_API_KEY"}]}]})
    b = baseline_for(priced)
    assert b is not None and b.model == "gpt-4o" and b.price.input_per_mtok > 0
    assert baseline_for(priced, "gpt-4.1-mini") is not None
    with pytest.raises(BadRequestError, match="no catalog price"):
        baseline_for(priced, "no-such-model-xyz")
