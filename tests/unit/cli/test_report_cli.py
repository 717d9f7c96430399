"""`smallfirst report` over a real SQLite log: terminal tables, HTML, PNG and JSON agree with the log."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from smallfirst.cli.main import main
from smallfirst.core.types import RequestRecord
from smallfirst.store.sqlite import SQLiteStore
from tests.helpers.logdata import make_record

Log = tuple[Path, list[RequestRecord]]


@pytest.fixture
def log(tmp_path: Path) -> Log:
    path = tmp_path / "log.db"
    store = SQLiteStore(str(path))
    rng = random.Random(4)
    rows = [make_record(i, rng, t0=time.time() - 3 * 3600, span_s=2 * 3600) for i in range(400)]
    for r in rows:
        store.record(r)
    store.close()
    return path, rows


def test_report_writes_matching_json_html_and_png(log: Log, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path, rows = log
    out = tmp_path / "out"
    out.mkdir()
    assert main(["report", "--log", str(path), "--since", "4h", "--json", str(out / "r.json"), "--html",
                 str(out / "r.html"), "--png", str(out / "r.png"), "--baseline", "gpt-4.1"]) == 0
    text = capsys.readouterr().out
    assert f"{len(rows):,} (" in text and "Tiers" in text and "Escalation reasons" in text
    o = json.loads((out / "r.json").read_text())
    assert o["totals"]["requests"] == len(rows)
    assert o["totals"]["cost_usd"] == pytest.approx(sum(r.cost_usd for r in rows))
    assert o["cost"]["baseline"]["model"] == "gpt-4.1"
    page = (out / "r.html").read_text()
    assert page.count("<svg") == 4 and "src=" not in page and 'href="http' not in page
    assert f"{len(rows):,}" in page
    png = (out / "r.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_missing_log_and_bad_time_are_one_line_errors(tmp_path: Path, log: Log,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--log", str(tmp_path / "nope.db")]) == 2
    assert "no request log at" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()  # a report never creates a log
    assert main(["report", "--log", str(log[0]), "--since", "yesterday"]) == 1
    err = capsys.readouterr().err
    assert "is not a time" in err and err.count("\n") == 1
