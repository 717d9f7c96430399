"""Redaction through the real gateway: a remote tier the classes allow sees placeholders, the client the values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from smallfirst.cli.main import main
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.gateway import free_port
from tests.integration.gateway.conftest import GatewayFactory, reopen_log

EMAIL = "maria.keller@example.org"
IBAN = "DE89 3704 0044 0532 0130 00"
TEXT = f"Tell {EMAIL} that {IBAN} is closed."
KEY_ENV = "SF_REDACT_TEST_ANTHROPIC_KEY"


@pytest.fixture
def remotes(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeOpenAI, FakeAnthropic]]:
    monkeypatch.setenv(KEY_ENV, "sk-ant-redact")
    with FakeOpenAI(model="mid-model").in_thread() as mid, \
            FakeAnthropic(model="claude-fake-1", api_key="sk-ant-redact").in_thread() as frontier:
        yield mid, frontier


def config(mid: FakeOpenAI, frontier: FakeAnthropic, **residency: Any) -> dict[str, Any]:
    return {
        "log": {"store_prompts": True},
        "residency": residency,
        "tiers": [
            {"name": "local", "endpoints": [{"backend": "openai_compat", "model": "local-model", "location": "local",
                                             "base_url": f"http://127.0.0.1:{free_port()}/v1"}]},  # down
            {"name": "mid", "endpoints": [{"backend": "openai_compat", "model": "mid-model", "location": "eu",
                                           "base_url": mid.base_url}]},
            {"name": "frontier", "endpoints": [{"backend": "anthropic", "model": "claude-fake-1", "location": "us",
                                                "base_url": frontier.url, "api_key_env": KEY_ENV}]},
        ]}


def chat(url: str, *, stream: bool = False, model: str = "smallfirst/auto") -> httpx.Response:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": TEXT}], "stream": stream}
    return httpx.post(url + "/v1/chat/completions", json=body, timeout=20)


def sse_text(r: httpx.Response) -> str:
    out = []
    for line in r.text.splitlines():
        if line.startswith("data: {"):
            for ch in json.loads(line[6:])["choices"]:
                out.append(ch["delta"].get("content") or "")
    return "".join(out)


def test_allowed_remote_tiers_see_placeholders_and_answers_are_restored(
        gateway: GatewayFactory, remotes: tuple[FakeOpenAI, FakeAnthropic], tmp_path: Path) -> None:
    mid, frontier = remotes
    cfg = config(mid, frontier, redaction=True, classes={"pii": ["local", "eu", "us"], "financial": ["*"]})
    with gateway(cfg) as (url, _):
        plain = chat(url)
        streamed = chat(url, stream=True)
        top = chat(url, model="smallfirst/frontier")
    assert plain.status_code == 200 and plain.headers["x-smallfirst-tier"] == "mid"
    assert plain.json()["choices"][0]["message"]["content"] == f"echo: {TEXT}"
    assert streamed.status_code == 200 and sse_text(streamed) == f"echo: {TEXT}"
    assert top.status_code == 200 and top.json()["choices"][0]["message"]["content"] == f"echo: {TEXT}"
    sent = [r.body for r in mid.requests + frontier.requests if r.method == "POST"]
    assert len(sent) == 3
    for body in sent:
        wire = json.dumps(body)
        assert "[EMAIL_1]" in wire and "[IBAN_1]" in wire
        assert EMAIL not in wire and IBAN not in wire and IBAN.replace(" ", "") not in wire
    store = reopen_log(tmp_path)
    rows = store.query()
    store.close()
    assert all(r.prompt_text is None and r.response_text is None for r in rows)
    for r in rows:  # the local tier is down: its failed attempt is local and unmasked; the remote one masked
        assert [(a.location, a.redacted) for a in r.attempts if a.location != "local"] == [
            (a.location, (("email", 1), ("iban", 1))) for a in r.attempts if a.location != "local"]
        assert len([a for a in r.attempts if a.location != "local"]) == 1
        assert all(a.redacted is None for a in r.attempts if a.location == "local")
    out = tmp_path / "e.json"
    assert main(["report", "residency", "--log", str(tmp_path / "log.db"), "--since", "1h", "--json", str(out),
                 "--check"]) == 0  # they left the host, as the classes allow, but only masked
    e = json.loads(out.read_text())
    assert e["left_host"] == 3 and {x["tier"] for x in e["served_by"]} == {"mid", "frontier"}
    assert (e["left_host_redacted"], e["left_host_unredacted"]) == (3, 0)
    assert e["redacted_entities"] == {"email": 3, "iban": 3}  # one of each masked, in each of 3 requests
    assert main(["report", "residency", "--log", str(tmp_path / "log.db"), "--since", "1h", "--check",
                 "--strict"]) == 1  # --strict: any egress fails, masked or not


def test_redaction_never_makes_a_forbidden_tier_allowed(gateway: GatewayFactory,
                                                        remotes: tuple[FakeOpenAI, FakeAnthropic]) -> None:
    mid, frontier = remotes
    with gateway(config(mid, frontier, redaction=True)) as (url, _):
        r = chat(url)
    assert r.status_code == 503 and r.json()["error"]["code"] == "policy_blocked"
    assert mid.requests == [] and frontier.requests == []
