"""The mix governor's window from a shared request log: the rule, the store query, the window itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from smallfirst.config.loader import parse
from smallfirst.core.errors import ConfigError
from smallfirst.core.types import RequestRecord
from smallfirst.routing.governed import GovernedRouter
from smallfirst.routing.governor import MixGovernor
from smallfirst.routing.rules import RulesRouter
from smallfirst.routing.shared_mix import SharedWindow, governor_shared, reader_for
from smallfirst.store.sqlite import SQLiteStore
from tests.helpers import postgres

TIERS = [{"name": "local", "endpoints": [{"backend": "fake", "model": "a"}]},
         {"name": "frontier", "endpoints": [{"backend": "fake", "model": "b"}]}]


def row(tier: str | None, i: int = 0, status: int = 200, model: str = "smallfirst/auto") -> RequestRecord:
    return RequestRecord(request_id=f"r{i}", ts=float(i), requested_model=model, tier=tier, model="m",
                         endpoint="e", status=status, error_code=None, reason="", escalations=(), attempts=(),
                         prompt_tokens=0, completion_tokens=0, cost_usd=0.0, latency_ms=1.0, ttft_ms=None,
                         stream=False)


def settings(**kw: Any) -> Any:
    return parse({"tiers": TIERS, **kw})


def test_the_rule_shared_only_when_the_log_is() -> None:
    assert not governor_shared(settings())  # one process, its own SQLite file
    assert governor_shared(settings(server={"workers": 2}))  # serve --workers 2: one file, two writers
    assert governor_shared(settings(log={"url": "postgresql://db/x"}))
    assert governor_shared(settings(routing={"governor_scope": "shared"}))
    assert not governor_shared(settings(server={"workers": 4}, routing={"governor_scope": "process"}))


def test_reader_needs_a_store_that_reads_recent_rows() -> None:
    assert reader_for(object(), settings()) is None
    assert reader_for(object(), settings(server={"workers": 2})) is None  # auto: per process then
    with pytest.raises(ConfigError, match="governor_scope = 'shared' needs"):
        reader_for(object(), settings(routing={"governor_scope": "shared"}))


def test_store_returns_the_served_tier_of_routed_requests_oldest_first(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "log.db"))
    try:
        rows = [row("local", 0), row("frontier", 1), row(None, 2, status=503), row("frontier", 3, model="x"),
                row("mid", 4, model="smallfirst/shadow"), row("local", 5)]
        for r in rows:
            store.record(r)
        store.flush()
        assert store.recent_tiers(10) == ["local", "frontier", "local"]
        assert store.recent_tiers(2) == ["frontier", "local"]
    finally:
        store.close()


def test_postgres_store_reads_the_same_window(pg_cluster: str) -> None:
    from smallfirst.store.postgres import PostgresStore

    store = PostgresStore(postgres.fresh_database(pg_cluster))
    try:
        for r in (row("local", 0), row("frontier", 1), row(None, 2, status=503), row("local", 3)):
            store.record(r)
        store.flush()
        assert store.recent_tiers(10) == ["local", "frontier", "local"]
        assert reader_for(store, settings(log={"url": "postgresql://db/x"})) == store.recent_tiers
    finally:
        store.close()


def test_load_window_matches_observing_the_same_tiers() -> None:
    seq = list(np.random.default_rng(3).integers(0, 3, size=700))
    seen = MixGovernor([0.6, 0.3, 0.1], window=500, alpha=0.02)
    for t in seq:
        seen.observe(int(t))
    loaded = MixGovernor([0.6, 0.3, 0.1], window=500, alpha=0.02)
    loaded.load_window(seq)
    assert loaded.realised() == pytest.approx(seen.realised())
    assert loaded._smooth == pytest.approx(seen._smooth, abs=1e-4)  # the 200 older ones weigh (1 - 0.02)^500
    assert loaded.observed == 500 and not loaded.offsets.any()  # corrections move only with observations


def test_governed_router_steers_on_the_shared_window() -> None:
    """This process served nothing but local; the shared log says the frontier already answers 40 %."""
    log: list[str] = ["frontier", "local", "local"] * 100 + ["frontier"] * 20
    reads: list[int] = []

    def read(n: int) -> list[str]:
        reads.append(n)
        return log[-n:]

    clock = [0.0]
    g = GovernedRouter(RulesRouter(["local", "frontier"]), ["local", "frontier"], {"local": 0.8, "frontier": 0.2},
                       window=200)
    g.share(SharedWindow(read, 200, refresh_s=5.0, background=False, clock=lambda: clock[0]))
    for _ in range(60):
        g.observe(row("local"))
    assert reads == [200]  # one read per refresh interval
    assert g.served_share()["frontier"] >= 0.25  # the shared window (40 %), then 59 of its own local answers
    assert g.corrections()["local"] < 0  # too little local overall: the correction falls
    clock[0] = 6.0
    g.observe(row("local"))
    assert reads == [200, 200]


def test_a_failed_read_keeps_the_window() -> None:
    def read(n: int) -> list[str]:
        raise OSError("disk gone")

    w = SharedWindow(read, 10, background=False)
    assert w.poll() is None and w.failures == 1 and w.error is not None and "disk gone" in w.error
