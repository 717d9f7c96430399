"""Leak tests: sensitive requests never reach a remote tier, whatever goes wrong on the local one.

The remote tiers are protocol-faithful fakes on 127.0.0.1 that record every hit (an OpenAI-compatible
``mid`` tier in ``eu``, an Anthropic ``frontier`` tier in ``us``); the local tier is a fake OpenAI
server declared ``location = "local"``. Fallback up the chain and escalation are on, a cascade
contract with a verifier is configured, and requests come in through both the OpenAI
(``/v1/chat/completions``) and the Anthropic (``/v1/messages``) endpoints, streamed and not. A
non-sensitive control request in every scenario does reach a remote tier, so the zero is not an
artefact of a broken chain. Afterwards the request log, ``smallfirst report residency`` and the
raw bytes of the SQLite files are checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from smallfirst.cli.main import main
from smallfirst.core.types import RequestRecord
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.base import Fault
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.gateway import free_port
from tests.integration.gateway.conftest import GatewayFactory, reopen_log

EMAIL = "maria.keller@example.org"
CARD = "4111 1111 1111 1111"
IBAN = "DE89 3704 0044 0532 0130 00"
AWS_KEY = "AKIAZ7Q4RKJ2M3PWXQ5N"
NHS = "943 476 5919"
PLANTED = (EMAIL, CARD, CARD.replace(" ", ""), IBAN, IBAN.replace(" ", ""), AWS_KEY, NHS, NHS.replace(" ", ""),
           "maria.keller")
KEY_ENV = "SF_LEAK_TEST_ANTHROPIC_KEY"
ANTHROPIC_KEY = "sk-ant-leak-test"
TASKS = [{"name": "yn", "labels": ["yes", "no"], "constrain": False, "verifier": True},
         {"name": "colour", "labels": ["red", "blue"], "constrain": False, "verifier": True}]
Call = Callable[[str], httpx.Response]


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "You are a careful bank clerk."}, {"role": "user", "content": text}]


def openai_call(messages: list[dict[str, Any]], *, stream: bool = False, task: str | None = None) -> Call:
    body: dict[str, Any] = {"model": "smallfirst/auto", "messages": messages}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    if task is not None:
        body["metadata"] = {"smallfirst_task": task}
    return lambda url: httpx.post(url + "/v1/chat/completions", json=body, timeout=20)


def anthropic_call(text: str, *, stream: bool = False) -> Call:
    body = {"model": "smallfirst/auto", "max_tokens": 64, "stream": stream, "system": "Be brief.",
            "messages": [{"role": "user", "content": text}]}
    return lambda url: httpx.post(url + "/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"},
                                  timeout=20)


TOOL_TURN: list[dict[str, Any]] = [
    {"role": "user", "content": "Look up the account and tell me the balance."},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
        "name": "lookup_account", "arguments": json.dumps({"iban": IBAN})}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": f"balance 120 EUR; api key {AWS_KEY}"},
]


@dataclass(frozen=True)
class Case:
    name: str
    call: Call
    entities: dict[str, int]
    openai_shape: bool = True


SENSITIVE = [
    Case("openai", openai_call(user(f"Email {EMAIL} that card {CARD} is blocked.")), {"email": 1, "credit_card": 1}),
    Case("openai-stream-tools", openai_call(TOOL_TURN, stream=True), {"iban": 1, "secret.aws_access_key": 1}),
    Case("anthropic", anthropic_call(f"Write to the GP about NHS number {NHS}."), {"nhs_number": 1},
         openai_shape=False),
    Case("anthropic-stream", anthropic_call(f"Send the {IBAN} statement to {EMAIL}.", stream=True),
         {"iban": 1, "email": 1}, openai_shape=False),
    Case("contract+verifier", openai_call(user(f"Is card {CARD} valid? Answer yes or no."), task="yn"),
         {"credit_card": 1}),
    Case("contract-stream", openai_call(user(f"Does {EMAIL} belong to a customer? yes or no"), stream=True,
                                        task="colour"), {"email": 1}),
]
CONTROL_TEXT = "Classify the sentiment of 'what a lovely day': positive or negative."
CONTROL = openai_call(user(CONTROL_TEXT))  # the rules router starts it on the local tier


@dataclass
class Upstreams:
    local: FakeOpenAI
    mid: FakeOpenAI
    frontier: FakeAnthropic


@pytest.fixture
def upstreams(monkeypatch: pytest.MonkeyPatch) -> Iterator[Upstreams]:
    monkeypatch.setenv(KEY_ENV, ANTHROPIC_KEY)
    with FakeOpenAI(model="local-model").in_thread() as local, \
            FakeOpenAI(model="mid-model", reply="yes").in_thread() as mid, \
            FakeAnthropic(model="claude-fake-1", reply="yes", api_key=ANTHROPIC_KEY).in_thread() as frontier:
        yield Upstreams(local, mid, frontier)


def config(up: Upstreams, local_url: str | None = None) -> dict[str, Any]:
    local = {"backend": "openai_compat", "model": "local-model", "base_url": local_url or up.local.base_url,
             "location": "local", "timeout_s": 0.5, "first_token_timeout_s": 0.5, "breaker_failures": 0}
    return {
        "log": {"store_prompts": True},  # opted in: sensitive requests must still keep no text
        "routing": {"fallback_up_chain": True, "max_escalations": 2},
        "cascade": {"tasks": TASKS},
        "tiers": [
            {"name": "local", "endpoints": [local]},
            {"name": "mid", "endpoints": [{"backend": "openai_compat", "model": "mid-model", "location": "eu",
                                           "base_url": up.mid.base_url, "breaker_failures": 0}]},
            {"name": "frontier", "endpoints": [{"backend": "anthropic", "model": "claude-fake-1", "location": "us",
                                                "base_url": up.frontier.url, "api_key_env": KEY_ENV,
                                                "breaker_failures": 0}]},
        ]}


def chat_hits(srv: FakeOpenAI | FakeAnthropic) -> list[Any]:
    return [r for r in srv.requests if r.method == "POST"]


def error_message(r: httpx.Response, openai_shape: bool) -> str:
    body = r.json()
    if openai_shape:
        assert set(body["error"]) >= {"message", "type", "code"}
        assert body["error"]["type"] == "policy_error" and body["error"]["code"] == "policy_blocked"
    else:
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    return str(body["error"]["message"])


def assert_no_planted(data: bytes | str, where: str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    for value in PLANTED:
        assert value.encode() not in raw, f"{value!r} found in {where}"


def residency_report(tmp_path: Path, name: str) -> dict[str, Any]:
    out = tmp_path / f"{name}.json"
    html = tmp_path / f"{name}.html"
    assert main(["report", "residency", "--log", str(tmp_path / "log.db"), "--since", "1h", "--json", str(out),
                 "--html", str(html), "--check"]) == 0
    assert_no_planted(out.read_bytes(), out.name)
    assert_no_planted(html.read_bytes(), html.name)
    assert "0 of " in html.read_text()
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def logged(tmp_path: Path) -> list[RequestRecord]:
    store = reopen_log(tmp_path)
    try:
        return store.query()
    finally:
        store.close()


def check_log_files(tmp_path: Path) -> None:
    files = sorted(tmp_path.glob("log.db*"))
    assert files, "no log written"
    for f in files:
        assert_no_planted(f.read_bytes(), f.name)


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["down", "slow", "error_500", "context_rejected"])
def test_local_failure_never_moves_sensitive_requests_off_host(gateway: GatewayFactory, upstreams: Upstreams,
                                                               tmp_path: Path, fault: str) -> None:
    up = upstreams
    local_url = None
    if fault == "down":
        local_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: connection refused
    elif fault == "slow":
        up.local.inject(Fault(delay_s=2.0, times=0))  # no first byte within timeout_s / first_token_timeout_s
    elif fault == "error_500":
        up.local.inject(Fault(status=500, times=0))
    else:
        up.local.context_window = 3  # every prompt overflows: context_length_exceeded
    with gateway(config(up, local_url)) as (url, _):
        answers = [(case, case.call(url)) for case in SENSITIVE]
        control = CONTROL(url)

    for case, r in answers:
        assert r.status_code == 503, (case.name, r.status_code, r.text)
        assert r.headers["x-should-retry"] == "false" and int(r.headers["retry-after"]) >= 1  # SDKs: no retry now
        msg = error_message(r, case.openai_shape)
        assert "residency policy" in msg and "fail closed" in msg and "mid, frontier" in msg, (case.name, msg)
        assert_no_planted(r.text, case.name)
    assert control.status_code == 200 and control.headers["x-smallfirst-tier"] == "mid"  # fallback is on

    assert chat_hits(up.frontier) == []
    mid_hits = chat_hits(up.mid)
    assert len(mid_hits) == 1 and "lovely day" in json.dumps(mid_hits[0].body)  # the control only
    assert_no_planted(json.dumps([h.body for h in mid_hits]) + json.dumps([h.headers for h in mid_hits]), "mid")
    if fault != "down":
        assert len(chat_hits(up.local)) == len(SENSITIVE) + 1  # each was tried on the local tier, once

    rows = logged(tmp_path)
    sensitive = [r for r in rows if r.sensitive]
    assert len(sensitive) == len(SENSITIVE) and len(rows) == len(SENSITIVE) + 1
    for row in sensitive:
        assert row.status == 503 and row.error_code == "policy_blocked"
        assert row.attempts and {a.location for a in row.attempts} == {"local"}
        assert row.prompt_text is None and row.response_text is None
    assert sorted(r.sensitive_entities for r in sensitive) == sorted(tuple(sorted(c.entities.items()))
                                                                     for c in SENSITIVE)
    (plain,) = [r for r in rows if not r.sensitive]
    assert [a.location for a in plain.attempts] == ["local", "eu"]
    check_log_files(tmp_path)

    rep = residency_report(tmp_path, fault)
    assert rep["left_host"] == 0 and rep["unverified"] == 0
    assert rep["statement"] == f"0 of {len(SENSITIVE)} sensitive requests left this host"
    assert rep["outcomes"]["blocked_by_policy"] == rep["outcomes"]["blocked_after_local_failure"] == len(SENSITIVE)
    assert rep["attempts_by_location"] == {"local": len(SENSITIVE)}
    assert rep["unflagged"]["left_host"] == 1  # the control fell back to mid: counted, not certified
    assert rep["unflagged"]["by_tier"] == [{"tier": "mid", "location": "eu", "requests": 1}]
    want: dict[str, int] = {}
    for c in SENSITIVE:
        for e, n in c.entities.items():
            want[e] = want.get(e, 0) + n
    assert {x["entity"]: x["occurrences"] for x in rep["by_entity"]} == want


@pytest.mark.slow
def test_healthy_local_with_failing_contract_and_verifier_stays_local(gateway: GatewayFactory, upstreams: Upstreams,
                                                                      tmp_path: Path) -> None:
    """The local tier answers; the cascade would escalate (label not allowed) or ask a verifier one tier
    up — for sensitive requests neither may leave the host, for the control requests both do."""
    up = upstreams
    up.local.reply = "yes"
    with gateway(config(up)) as (url, _):
        answers = [(case, case.call(url)) for case in SENSITIVE]
        verified = openai_call(user(CONTROL_TEXT + " Answer yes or no."), task="yn")(url)
        escalated = openai_call(user("Pick a colour for the logo."), task="colour")(url)

    for case, r in answers:
        assert r.status_code == 200 and r.headers["x-smallfirst-tier"] == "local", (case.name, r.text)
        assert "residency" in r.headers["x-smallfirst-reason"]
    reason = next(r for c, r in answers if c.name == "contract-stream").headers["x-smallfirst-reason"]
    assert "failed check (label_not_allowed) but no higher tier may answer" in reason
    assert verified.status_code == 200 and verified.headers["x-smallfirst-tier"] == "local"
    assert escalated.status_code == 200 and escalated.headers["x-smallfirst-tier"] == "frontier"

    mid_hits, front_hits = chat_hits(up.mid), chat_hits(up.frontier)
    assert len(mid_hits) == 2 and len(front_hits) == 1  # control: verifier call, then escalation mid -> frontier
    assert "Proposed answer" in json.dumps(mid_hits[0].body)
    hits = mid_hits + front_hits
    assert_no_planted(json.dumps([h.body for h in hits]) + json.dumps([h.headers for h in hits]), "remote tiers")

    rows = logged(tmp_path)
    sensitive = [r for r in rows if r.sensitive]
    assert len(sensitive) == len(SENSITIVE)
    for row in sensitive:
        assert row.status == 200 and row.tier == "local" and {a.location for a in row.attempts} == {"local"}
        assert row.prompt_text is None and row.response_text is None
    by_outcome = {r.request_id: [(a.outcome, a.location) for a in r.attempts] for r in rows if not r.sensitive}
    assert sorted(by_outcome.values()) == [
        [("label_not_allowed", "local"), ("label_not_allowed", "eu"), ("label_not_allowed", "us")],
        [("verify", "eu"), ("ok", "local")],  # the verifier's call is an attempt, logged with its location
    ]
    check_log_files(tmp_path)

    rep = residency_report(tmp_path, "healthy")
    assert rep["left_host"] == 0 and rep["sensitive_requests"] == len(SENSITIVE)
    assert rep["outcomes"]["served"] == len(SENSITIVE)
    assert rep["served_by"] == [{"tier": "local", "endpoint": "openai_compat:local-model", "location": "local",
                                 "requests": len(SENSITIVE)}]
