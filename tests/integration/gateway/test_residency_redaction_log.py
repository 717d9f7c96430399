"""Redacted egress in the evidence: the openai SDK through a real gateway to fake remote tiers on 127.0.0.1.

Each attempt that left the host masked is marked in the log (entity types and counts, never values);
the report, the admin API, the dashboard summary and ``/metrics`` tell redacted egress from unredacted.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from smallfirst.cli.main import main
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.gateway import free_port
from tests.integration.gateway.conftest import GatewayFactory

EMAIL = "maria.keller@example.org"
OTHER = "j.smith@example.com"
TEXT = f"Forward {EMAIL} and {OTHER} the minutes; cc {EMAIL}."


@pytest.fixture
def mid() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(model="mid-model").in_thread() as fake:
        yield fake


def config(mid: FakeOpenAI, *, redaction: bool) -> dict[str, Any]:
    return {
        "residency": {"redaction": redaction, "classes": {"pii": ["local", "eu"]}},
        "tiers": [
            {"name": "local", "endpoints": [{"backend": "openai_compat", "model": "local-model", "location": "local",
                                             "base_url": f"http://127.0.0.1:{free_port()}/v1"}]},  # down
            {"name": "mid", "endpoints": [{"backend": "openai_compat", "model": "mid-model", "location": "eu",
                                           "base_url": mid.base_url}]},
        ]}


def traffic(url: str) -> None:
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    msgs: Any = [{"role": "user", "content": TEXT}]
    done = client.chat.completions.create(model="smallfirst/auto", messages=msgs)
    assert done.choices[0].message.content == f"echo: {TEXT}"  # restored for the client
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="smallfirst/auto", messages=msgs, stream=True) if c.choices)
    assert streamed == f"echo: {TEXT}"
    plain = client.chat.completions.create(model="smallfirst/auto", messages=[{"role": "user", "content": "hi"}])
    assert plain.choices[0].message.content == "echo: hi"


def admin(url: str) -> tuple[dict[str, Any], dict[str, Any], dict[tuple[str, str], float]]:
    summary = httpx.get(url + "/admin/api/summary?since=1h").json()
    evidence = httpx.get(url + "/admin/api/residency?since=1h").json()
    egress = {(s.labels["data_class"], s.labels["redacted"]): s.value
              for fam in text_string_to_metric_families(httpx.get(url + "/metrics").text)
              for s in fam.samples if s.name == "smallfirst_residency_egress_total"}
    return summary, evidence, egress


def raw_attempts(log: Path) -> list[list[dict[str, Any]]]:
    with sqlite3.connect(log) as conn:
        return [json.loads(a) for (a,) in conn.execute("SELECT attempts FROM requests ORDER BY id")]


def test_masked_egress_is_marked_in_the_log_and_passes_the_check(
        gateway: GatewayFactory, mid: FakeOpenAI, tmp_path: Path) -> None:
    with gateway(config(mid, redaction=True)) as (url, app):
        traffic(url)
        app.pipeline.store.flush()
        summary, evidence, egress = admin(url)
    wire = json.dumps([r.body for r in mid.requests if r.method == "POST"])
    assert EMAIL not in wire and OTHER not in wire and "[EMAIL_1]" in wire and "[EMAIL_2]" in wire

    rows = raw_attempts(tmp_path / "log.db")
    assert len(rows) == 3
    for attempts in rows[:2]:  # the local tier is down, then mid answered masked: two distinct emails
        assert [(a["location"], a.get("redacted")) for a in attempts] == [("local", None), ("eu", {"email": 2})]
    assert [(a["location"], a.get("redacted")) for a in rows[2]] == [("local", None), ("eu", None)]  # nothing to mask
    assert EMAIL not in (tmp_path / "log.db").read_bytes().decode("latin-1")

    assert summary["residency"]["sensitive_requests"] == 2
    assert (summary["residency"]["left_host"], summary["residency"]["left_host_redacted"],
            summary["residency"]["left_host_unredacted"], summary["residency"]["unverified"]) == (2, 2, 0, 0)
    assert (evidence["left_host"], evidence["left_host_redacted"], evidence["left_host_unredacted"]) == (2, 2, 0)
    assert evidence["statement"] == "2 of 2 sensitive requests left this host (2 redacted, 0 unredacted)"
    assert evidence["redacted_entities"] == {"email": 4}
    assert [(x["redacted"], x["masked"]) for x in evidence["left_host_requests"]] == [(True, {"email": 2})] * 2
    assert egress == {("pii", "true"): 2.0}

    log = str(tmp_path / "log.db")
    assert main(["report", "residency", "--log", log, "--since", "1h", "--check"]) == 0
    assert main(["report", "residency", "--log", log, "--since", "1h", "--check", "--strict"]) == 1


def test_unmasked_egress_fails_the_check(gateway: GatewayFactory, mid: FakeOpenAI, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with gateway(config(mid, redaction=False)) as (url, app):
        traffic(url)
        app.pipeline.store.flush()
        summary, evidence, egress = admin(url)
    assert EMAIL in json.dumps([r.body for r in mid.requests if r.method == "POST"])  # the classes allow eu
    assert all(a.get("redacted") is None for attempts in raw_attempts(tmp_path / "log.db") for a in attempts)
    assert (summary["residency"]["left_host_redacted"], summary["residency"]["left_host_unredacted"]) == (0, 2)
    assert (evidence["left_host_redacted"], evidence["left_host_unredacted"]) == (0, 2)
    assert evidence["statement"] == "2 of 2 sensitive requests left this host"
    assert egress == {("pii", "false"): 2.0}
    capsys.readouterr()
    assert main(["report", "residency", "--log", str(tmp_path / "log.db"), "--since", "1h", "--check"]) == 1
    out = capsys.readouterr().out
    assert "2 of 2 sensitive requests left this host" in out and EMAIL not in out
