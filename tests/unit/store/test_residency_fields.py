"""Per-attempt locations and entity counts round-trip through the request log; rows logged before read back."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smallfirst.core.types import Attempt, RequestRecord, Usage
from smallfirst.store.codec import COLUMNS, from_row, to_row
from smallfirst.store.sqlite import SQLiteStore


def rec(**kw: object) -> RequestRecord:
    base: dict[str, object] = dict(
        request_id="req-1", ts=1000.0, requested_model="smallfirst/auto", tier="local", model="m",
        endpoint="fake:m", status=200, error_code=None, reason="rules: x", escalations=(),
        attempts=(Attempt("local", "m", "fake:m", "upstream_timeout", 5.0, location="local"),
                  Attempt("mid", "m2", "e2", "verify", 3.0, 0.001, Usage(3, 4), "eu")),
        prompt_tokens=3, completion_tokens=4, cost_usd=0.001, latency_ms=9.5, ttft_ms=None, stream=False,
        task_type="chat", sensitive=("financial", "pii"), sensitive_entities=(("credit_card", 1), ("email", 2)),
    )
    base.update(kw)
    return RequestRecord(**base)  # type: ignore[arg-type]


def test_locations_and_entity_counts_round_trip(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "log.db"))
    rows = [rec(), rec(request_id="req-2", sensitive=(), sensitive_entities=()),
            rec(request_id="req-3", sensitive=("pii",), sensitive_entities=())]
    for r in rows:
        store.record(r)
    store.close()
    again = SQLiteStore(str(tmp_path / "log.db"))
    assert again.query() == rows
    again.close()
    raw = dict(sqlite3.connect(tmp_path / "log.db").execute("SELECT request_id, sensitive FROM requests").fetchall())
    assert raw == {"req-1": '{"classes":["financial","pii"],"entities":{"credit_card":1,"email":2}}',
                   "req-2": "[]", "req-3": '["pii"]'}  # rows without counts keep the old list form


def test_rows_logged_before_read_as_unknown_location_and_no_counts() -> None:
    old_attempts = '[{"tier":"local","model":"m","endpoint":"e","outcome":"ok","latency_ms":1.0,"cost_usd":0.0,' \
                   '"prompt_tokens":1,"completion_tokens":2}]'
    row = list(to_row(rec()))
    d = dict(zip(COLUMNS, range(len(COLUMNS)), strict=True))
    row[d["attempts"]] = old_attempts
    row[d["sensitive"]] = '["pii"]'
    r = from_row(tuple(row))
    assert r.attempts == (Attempt("local", "m", "e", "ok", 1.0, 0.0, Usage(1, 2)),)
    assert r.attempts[0].location == "" and r.sensitive == ("pii",) and r.sensitive_entities == ()


def test_both_stores_keep_locations_and_counts(make_store: Callable[..., Any]) -> None:
    store = make_store(flush_interval_s=0.05)
    rows = [rec(), rec(request_id="req-2", ts=1001.0, sensitive=(), sensitive_entities=())]
    for r in rows:
        store.record(r)
    store.flush()
    got = store.query()
    assert got == rows
    assert [a.location for a in got[0].attempts] == ["local", "eu"]
    assert got[0].sensitive_entities == (("credit_card", 1), ("email", 2))
