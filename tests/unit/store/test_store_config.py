"""Choosing the store from config, and the PostgreSQL store's behaviour when the server is away."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from smallfirst.config.loader import parse
from smallfirst.core.errors import ConfigError
from smallfirst.pipeline import build_store
from smallfirst.store.sqlite import SQLiteStore
from tests.helpers import postgres
from tests.helpers.gateway import free_port
from tests.helpers.logdata import T0, check_against_log, make_record


def test_url_selects_postgres_and_path_sqlite(tmp_path: Path, pg_cluster: str) -> None:
    from smallfirst.store.postgres import PostgresStore

    s = build_store(parse({"log": {"path": str(tmp_path / "x.db")}}))
    assert isinstance(s, SQLiteStore)
    s.close()
    p = build_store(parse({"log": {"url": postgres.fresh_database(pg_cluster)}}))
    assert isinstance(p, PostgresStore)
    p.close()


@pytest.mark.parametrize(("url", "why"), [
    ("mysql://u@h/db", "postgresql:// URL"),
    ("postgresql://user:hunter2@db:5432/x", "must not contain a password"),
])
def test_bad_urls_are_config_errors(url: str, why: str) -> None:
    with pytest.raises((ConfigError, ValidationError), match=why) as info:
        parse({"log": {"url": url}})
    assert "hunter2" not in str(info.value)


def test_unreachable_server_is_a_clear_startup_error() -> None:
    from smallfirst.store.postgres import PostgresStore

    with pytest.raises(ConfigError, match=r"cannot connect to PostgreSQL at postgresql://nobody@127\.0\.0\.1"):
        PostgresStore(f"postgresql://nobody@127.0.0.1:{free_port()}/x")


@pytest.mark.slow
def test_an_outage_loses_no_rows(caplog: pytest.LogCaptureFixture) -> None:
    """The server stops while the gateway keeps logging; when it is back, every row is written."""
    if postgres.bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    from smallfirst.store.postgres import PostgresStore

    rng = random.Random(8)
    rows = [make_record(i, rng) for i in range(300)]
    with postgres.running_cluster() as pg:
        store = PostgresStore(postgres.fresh_database(pg.url), flush_interval_s=0.02)
        try:
            for r in rows[:100]:
                store.record(r)
            store.flush()
            pg.stop()
            for r in rows[100:]:
                store.record(r)  # never blocks; the writer retries in the background
            time.sleep(0.5)
            pg.start()
            store.flush()
            assert store.count() == len(rows)
            assert any("retrying" in m for m in caplog.messages)  # the outage was seen and ridden out
            check_against_log(store.summary(since=T0 - 60, until=T0 + 5 * 3600, bucket_s=3600), rows)
        finally:
            store.close()
