"""The feedback table in both request-log stores: find a request by id, keep feedback, read it back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smallfirst.core.types import Attempt, RequestRecord
from smallfirst.store.feedback import Feedback, latest_by_request
from smallfirst.store.sqlite import SQLiteStore


def record(rid: str, ts: float) -> RequestRecord:
    return RequestRecord(request_id=rid, ts=ts, requested_model="smallfirst/auto", tier="local", model="m",
                         endpoint="e", status=200, error_code=None, reason="r", escalations=(),
                         attempts=(Attempt("local", "m", "e", "ok"),), prompt_tokens=1, completion_tokens=1,
                         cost_usd=0.0, latency_ms=1.0, ttft_ms=None, stream=False, api_key_id="k1")


def exercise(store: Any) -> None:
    store.record(record("r1", 10.0))
    store.record(record("r2", 11.0))
    found = store.find("r2")  # flushes the queued rows first
    assert found is not None and found.request_id == "r2" and found.api_key_id == "k1"
    assert store.find("missing") is None
    store.add_feedback(Feedback("fb1", "r1", 20.0, "k1", "local", score=0.5))
    store.add_feedback(Feedback("fb2", "r1", 21.0, "k1", "local", label="bad", text_dropped=True))
    store.add_feedback(Feedback("fb3", "r2", 22.0, None, "local", comment="just a note"))
    rows = store.feedback()
    assert [f.feedback_id for f in rows] == ["fb1", "fb2", "fb3"] and rows[1].text_dropped
    assert [f.feedback_id for f in store.feedback(since=21.0)] == ["fb2", "fb3"]
    latest = latest_by_request(rows)
    assert set(latest) == {"r1"} and latest["r1"].effective_score() == 0.0  # the comment alone has no score


def test_sqlite_feedback(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "log.db"))
    try:
        exercise(store)
    finally:
        store.close()


def test_postgres_feedback(pg_cluster: str) -> None:
    pytest.importorskip("psycopg")
    from smallfirst.store.postgres import PostgresStore
    from tests.helpers.postgres import fresh_database

    store = PostgresStore(fresh_database(pg_cluster))
    try:
        exercise(store)
    finally:
        store.close()
