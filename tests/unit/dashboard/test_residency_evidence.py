"""Residency evidence over a real SQLite log: paging, what counts as leaving the host, and the CLI."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from smallfirst.cli.main import main
from smallfirst.core.types import Attempt, RequestRecord, Usage
from smallfirst.dashboard.residency import Evidence, iter_log, residency_evidence
from smallfirst.dashboard.residency_html import render_residency_html
from smallfirst.store.sqlite import SQLiteStore

NOW = time.time()


def rec(i: int, *, ts: float | None = None, attempts: tuple[Attempt, ...] = (), status: int = 200,
        tier: str | None = "local", error: str | None = None, sensitive: tuple[str, ...] = ("pii",),
        entities: tuple[tuple[str, int], ...] = (("email", 1),), reason: str = "rules: x") -> RequestRecord:
    return RequestRecord(
        request_id=f"req-{i}", ts=NOW - 600 + i if ts is None else ts, requested_model="smallfirst/auto", tier=tier,
        model="m" if tier else None, endpoint=f"ep-{tier}" if tier else None, status=status, error_code=error,
        reason=reason, escalations=(), attempts=attempts, prompt_tokens=1, completion_tokens=1, cost_usd=0.0,
        latency_ms=1.0, ttft_ms=None, stream=False, task_type="chat", sensitive=sensitive,
        sensitive_entities=entities if sensitive else ())


def ok(tier: str, location: str, outcome: str = "ok") -> Attempt:
    return Attempt(tier, "m", f"ep-{tier}", outcome, 1.0, 0.0, Usage(1, 1), location)


def store_with(tmp_path: Path, rows: list[RequestRecord]) -> SQLiteStore:
    store = SQLiteStore(str(tmp_path / "log.db"), batch_size=50)
    for r in rows:
        store.record(r)
    store.flush()
    return store


def test_paging_yields_every_row_once_even_across_equal_timestamps(tmp_path: Path) -> None:
    rng = random.Random(5)
    ts = [NOW - 500 + rng.choice([0, 1, 2, 2.5]) for _ in range(40)] + [NOW - 100] * 9  # runs longer than a page
    rows = [rec(i, ts=t) for i, t in enumerate(ts)]
    store = store_with(tmp_path, rows)
    for page in (1, 3, 4, 7, 100):
        got = [r.request_id for r in iter_log(store, NOW - 1000, NOW, page=page)]
        assert sorted(got) == sorted(r.request_id for r in rows), page
        assert len(got) == len(set(got))
    assert [r.request_id for r in iter_log(store, NOW - 200, NOW, page=4)] == [f"req-{i}" for i in range(40, 49)]
    store.close()


def test_any_attempt_off_host_counts_and_unlogged_locations_are_unverified() -> None:
    ev = Evidence(NOW - 3600, NOW)
    ev.add(rec(1, attempts=(ok("local", "local"),), entities=(("email", 2), ("phone", 1))))
    ev.add(rec(2, attempts=(ok("mid", "eu", "verify"), ok("local", "local"))))  # a verifier call left the host
    ev.add(rec(3, attempts=(ok("local", "local", "label_not_allowed"), ok("mid", "eu")), tier="mid",
               sensitive=("phi",), entities=(("nhs_number", 1),)))
    ev.add(rec(4, attempts=(), status=503, tier=None, error="policy_blocked", sensitive=("secret",),
               entities=(("secret.jwt", 1),)))
    ev.add(rec(5, attempts=(ok("local", "local", "upstream_timeout"),), status=503, tier=None,
               error="policy_blocked"))
    ev.add(rec(6, attempts=(ok("local", "local", "upstream_bad_request"),), status=400, tier=None,
               error="upstream_bad_request"))
    ev.add(rec(7, attempts=(ok("local", ""),)))  # logged before attempts carried a location
    ev.add(rec(8, attempts=(ok("frontier", "us"),), tier="frontier", sensitive=()))  # not sensitive: not counted
    ev.add(rec(9, attempts=(), status=503, tier=None, error="policy_blocked", sensitive=(),
               reason="residency: x-smallfirst-residency: local → only local; no tier allowed (fail closed)"))
    e = ev.result()
    assert (e["requests"], e["sensitive_requests"], e["left_host"], e["unverified"]) == (9, 7, 2, 1)
    assert e["statement"].startswith("2 of 7 sensitive requests left this host; 1 more cannot be verified")
    assert [x["request_id"] for x in e["left_host_requests"]] == ["req-2", "req-3"]
    assert e["left_host_requests"][1]["locations"] == ["eu"] and e["left_host_requests"][1]["tiers"] == ["mid"]
    assert e["outcomes"] == {"served": 4, "blocked_by_policy": 2, "blocked_after_local_failure": 1,
                             "failed": {"upstream_bad_request": 1}}
    assert e["residency_blocked_non_sensitive"] == 1
    pii = next(c for c in e["by_class"] if c["class"] == "pii")
    assert pii == {"class": "pii", "requests": 5, "served": 3, "blocked_by_policy": 1, "failed": 1, "left_host": 1,
                   "left_host_redacted": 0, "tiers": {"local": 3}, "locations": {"local": 2, "unknown": 1}}
    assert {x["entity"]: (x["class"], x["requests"], x["occurrences"]) for x in e["by_entity"]} == {
        "email": ("pii", 5, 6), "phone": ("pii", 1, 1), "nhs_number": ("phi", 1, 1), "secret.jwt": ("secret", 1, 1)}
    assert {(x["tier"], x["location"]): x["requests"] for x in e["served_by"]} == {
        ("local", "local"): 2, ("mid", "eu"): 1, ("local", "unknown"): 1}
    page = render_residency_html(e)
    assert "2 of 7 sensitive requests left this host" in page and "req-3" in page and "<script" not in page


def test_cli_writes_json_and_html_and_check_fails_on_a_leak(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    rows = [rec(i, attempts=(ok("local", "local"),)) for i in range(30)]
    rows.append(rec(99, ts=NOW - 5 * 86400, attempts=(ok("mid", "eu"),), tier="mid"))  # outside the range
    store_with(tmp_path, rows).close()
    log = str(tmp_path / "log.db")
    out, html = tmp_path / "e.json", tmp_path / "e.html"
    assert main(["report", "residency", "--log", log, "--since", "1d", "--json", str(out), "--html", str(html),
                 "--check"]) == 0
    text = capsys.readouterr().out
    assert "0 of 30 sensitive requests left this host" in text and "By entity type" in text
    e = json.loads(out.read_text())
    assert e["sensitive_requests"] == 30 and e["left_host"] == 0
    assert "0 of 30 sensitive requests left this host" in html.read_text()
    assert main(["report", "residency", "--log", log, "--since", "7d", "--check"]) == 1
    assert "1 of 31 sensitive requests left this host" in capsys.readouterr().out
    assert main(["report", "residency", "--log", log, "--since", "last tuesday"]) == 1
    assert "is not a time" in capsys.readouterr().err
    assert main(["report", "residency", "--log", str(tmp_path / "none.db")]) == 2
    assert "no request log" in capsys.readouterr().err


def test_evidence_matches_the_store_query(tmp_path: Path) -> None:
    rows = [rec(i, attempts=(ok("local", "local"),), sensitive=("pii",) if i % 2 else ()) for i in range(20)]
    store = store_with(tmp_path, rows)
    e = residency_evidence(store, NOW - 3600, NOW, page=6)
    store.close()
    assert e["requests"] == 20 and e["sensitive_requests"] == 10 and e["left_host"] == 0


def masked(tier: str, location: str, redacted: tuple[tuple[str, int], ...]) -> Attempt:
    return Attempt(tier, "m", f"ep-{tier}", "ok", 1.0, 0.0, Usage(1, 1), location, redacted)


def test_redacted_egress_is_told_apart_and_check_fails_only_on_unredacted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [rec(i, attempts=(ok("local", "local"),)) for i in range(5)]
    rows += [rec(10 + i, tier="mid", attempts=(ok("local", "local", "upstream_timeout"),
                                              masked("mid", "eu", (("email", 2), ("iban", 1)))))
             for i in range(3)]
    store_with(tmp_path, rows).close()
    log = str(tmp_path / "log.db")
    out, html = tmp_path / "e.json", tmp_path / "e.html"
    assert main(["report", "residency", "--log", log, "--since", "1d", "--check", "--json", str(out),
                 "--html", str(html)]) == 0
    text = capsys.readouterr().out
    assert "3 of 8 sensitive requests left this host (3 redacted, 0 unredacted)" in text
    assert "Masked before leaving this host" in text
    e = json.loads(out.read_text())
    assert (e["left_host"], e["left_host_redacted"], e["left_host_unredacted"]) == (3, 3, 0)
    assert e["redacted_entities"] == {"email": 6, "iban": 3}
    assert e["by_class"][0]["left_host_redacted"] == 3
    assert {(x["request_id"], x["redacted"]) for x in e["left_host_requests"]} == {
        ("req-10", True), ("req-11", True), ("req-12", True)}
    page = html.read_text()
    assert "masked: email 2, iban 1" in page and "#b9770e" in page  # amber: left, but masked
    assert main(["report", "residency", "--log", log, "--since", "1d", "--check", "--strict"]) == 1

    # one more that left as is (a later masked attempt does not make up for it): the check fails
    store = SQLiteStore(log)
    store.record(rec(20, tier="mid", attempts=(ok("frontier", "us", "upstream_timeout"),
                                              masked("mid", "eu", (("email", 1),)))))
    store.close()
    capsys.readouterr()
    assert main(["report", "residency", "--log", log, "--since", "1d", "--check"]) == 1
    assert "4 of 9 sensitive requests left this host (3 redacted, 1 unredacted)" in capsys.readouterr().out
