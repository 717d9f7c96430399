"""Local (own hardware) cost in the request log: kept per attempt, rolled up apart from API spend, and
subtracted from the savings the overview reports."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from smallfirst.core.types import Attempt, Price, RequestRecord
from smallfirst.dashboard.views import Baseline, View, default_target, overview
from smallfirst.store import rollup
from smallfirst.store.codec import COLUMNS, from_row, to_row
from smallfirst.store.sqlite import SQLiteStore
from tests.helpers.logdata import T0, make_record

PRICE = Price(2.0, 8.0, "test")
TIERS = ("local", "mid", "frontier")
VIEW = View(TIERS, frozenset({"local"}), default_target(list(TIERS)), Baseline("frontier-x", PRICE))


def with_local_cost(i: int, rng: random.Random) -> RequestRecord:
    """A synthetic row whose local attempts carry a local cost (µUSD-sized, like a few seconds on a GPU)."""
    r = make_record(i, rng)
    attempts = tuple(replace(a, local_cost_usd=round(rng.uniform(1e-6, 5e-5), 12)) if a.tier == "local" else a
                     for a in r.attempts)
    return replace(r, attempts=attempts, local_cost_usd=sum(a.local_cost_usd for a in attempts))


def test_local_cost_round_trips_and_old_rows_read_as_zero() -> None:
    r = with_local_cost(1, random.Random(3))
    while not r.local_cost_usd:
        r = with_local_cost(2, random.Random(4))
    back = from_row(to_row(r))
    assert back.local_cost_usd == pytest.approx(r.local_cost_usd)
    assert [a.local_cost_usd for a in back.attempts] == [a.local_cost_usd for a in r.attempts]
    plain = replace(r, attempts=tuple(replace(a, local_cost_usd=0.0) for a in r.attempts), local_cost_usd=0.0)
    row = to_row(plain)
    attempts_json = orjson.loads(row[COLUMNS.index("attempts")])
    assert all("local_cost_usd" not in a for a in attempts_json)  # rows without it look as they did before
    assert from_row(row).local_cost_usd == 0.0


def test_egress_backfill_adds_no_local_cells() -> None:
    r = replace(with_local_cost(5, random.Random(5)), sensitive=("pii",), local_cost_usd=1e-5)
    full = rollup.Rollup().extend([r]).cells
    partial = rollup.Rollup(rollup.egress_items).extend([r]).cells
    assert any(k[2] == rollup.DIM_LOCAL_COST for k in full)
    assert not any(k[2] == rollup.DIM_LOCAL_COST for k in partial)
    one = rollup.Rollup()
    one.add(r)
    assert one.cells == full  # the one-window fast path and the per-record path agree


def test_overview_separates_local_cost_and_subtracts_it_from_savings(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "log.db"))
    rng = random.Random(11)
    rows = [with_local_cost(i, rng) for i in range(2000)]
    for r in rows:
        store.record(r)
    store.flush()
    summary = store.summary(since=T0, until=T0 + 5 * 3600, bucket_s=1800)
    logged = store.query()
    store.close()
    assert sum(r.local_cost_usd for r in logged) == pytest.approx(sum(r.local_cost_usd for r in rows))
    o = overview(summary, VIEW)
    local = sum(r.local_cost_usd for r in rows)
    api = sum(r.cost_usd for r in rows)
    c = o["cost"]
    assert local > 0
    assert c["local_usd"] == pytest.approx(local) and o["totals"]["local_cost_usd"] == pytest.approx(local)
    assert c["actual_usd"] == c["api_usd"] == pytest.approx(api)  # API spend never includes the local cost
    assert c["total_usd"] == pytest.approx(api + local)
    assert c["savings_usd"] == pytest.approx(c["baseline_usd"] - api - local, abs=1e-7)
    assert c["savings_ignoring_local_usd"] - c["savings_usd"] == pytest.approx(local, abs=1e-7)
    assert c["savings_pct"] == pytest.approx(100 * c["savings_usd"] / c["baseline_usd"], abs=1e-3)
    by_tier = {t["name"]: t["local_cost_usd"] for t in o["tiers"]}
    for name in TIERS:
        assert by_tier[name] == pytest.approx(sum(r.local_cost_usd for r in rows if r.tier == name), abs=1e-9)
    in_series = sum(p["local_cost_usd"] for p in o["series"])
    assert in_series == pytest.approx(local, abs=1e-7)


def test_a_summary_without_local_series_still_renders() -> None:
    """Plugin stores written before local costs return no ``local_series``."""
    summary = {"since": 0, "until": 3600, "bucket_s": 3600, "series": [[0, "local", 200, 1, 0.0, 10, 5]],
               "facets": [["status", "local", "200", 1, 0.0, 10, 5, 3.0]]}
    o = overview(summary, VIEW)
    assert o["cost"]["local_usd"] == 0.0 and o["series"][0]["local_cost_usd"] == 0.0


def test_attempt_default_has_no_local_cost() -> None:
    assert Attempt("local", "m", "e", "ok").local_cost_usd == 0.0
