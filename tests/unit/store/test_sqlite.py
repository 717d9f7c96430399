from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from smallfirst.core.types import Attempt, RequestRecord, Usage
from smallfirst.store.migrations import SQLITE_MIGRATIONS
from smallfirst.store.sqlite import SQLiteStore


def rec(i: int, **kw: object) -> RequestRecord:
    base: dict[str, object] = dict(
        request_id=f"req-{i}", ts=1000.0 + i, requested_model="smallfirst/auto", tier="local", model="m",
        endpoint="fake:m", status=200, error_code=None, reason="rules: x", escalations=("local->mid",),
        attempts=(Attempt("local", "m", "fake:m", "upstream_timeout", 5.0), Attempt("mid", "m2", "e2", "ok", 3.0,
                                                                                     0.001, Usage(3, 4))),
        prompt_tokens=3, completion_tokens=4, cost_usd=0.001, latency_ms=9.5, ttft_ms=None, stream=False,
        task_type="chat", sensitive=(), prompt_text=None, response_text=None, api_key_id=None,
    )
    base.update(kw)
    return RequestRecord(**base)  # type: ignore[arg-type]


def test_round_trip_and_flush(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "log.db"), flush_interval_s=0.05)
    store.record(rec(1))
    store.flush()
    rows = store.query()
    assert rows == [rec(1)]
    store.close()


def test_survives_restart_and_is_wal(tmp_path: Path) -> None:
    path = str(tmp_path / "log.db")
    store = SQLiteStore(path)
    for i in range(500):
        store.record(rec(i))
    store.close()  # close flushes
    again = SQLiteStore(path)
    assert again.count() == 500
    assert again.query(since=1000.0 + 490)[0].request_id == "req-490"
    again.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(SQLITE_MIGRATIONS)


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "log.db"), batch_size=7)
    threads = [threading.Thread(target=lambda k=k: [store.record(rec(k * 1000 + j)) for j in range(200)])
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.flush()
    assert store.count() == 800
    assert len({r.request_id for r in store.query()}) == 800
    store.close()


def test_limit_and_time_window(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "log.db"))
    for i in range(10):
        store.record(rec(i))
    store.flush()
    assert [r.request_id for r in store.query(since=1003, until=1005)] == ["req-3", "req-4", "req-5"]
    assert len(store.query(limit=2)) == 2
    store.close()


def test_flush_waits_only_for_earlier_rows_and_close_writes_the_rest(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "log.db"), batch_size=10_000, flush_interval_s=60.0)  # never by timer
    for i in range(3):
        store.record(rec(i))
    store.flush()  # returns although neither the batch size nor the interval was reached
    assert store.count() == 3
    store.record(rec(3))
    store.close()
    again = SQLiteStore(str(tmp_path / "log.db"))
    assert again.count() == 4
    again.close()
