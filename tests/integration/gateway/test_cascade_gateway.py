"""The cascade through the real gateway: a local fake answer checked against the request's contract,
escalated to a protocol-faithful OpenAI-compatible upper tier on 127.0.0.1 that counts its calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import openai
import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.integration.gateway.conftest import GatewayFactory, log_rows

MSG = [{"role": "user", "content": "Is the word 'lovely' positive or negative?"}]
PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name"]}
TASKS = [{"name": "sentiment", "labels": ["positive", "negative"], "constrain": False},
         {"name": "sentiment_constrained", "labels": ["positive", "negative"]},
         {"name": "sentiment_confident", "labels": ["positive", "negative"], "min_confidence": 0.5,
          "constrain": False}]


def config(local_reply: str, upper_url: str, *, logprob: float = -0.1, price: bool = True) -> dict[str, Any]:
    # the vllm preset: an OpenAI-compatible server that returns log-probs (capabilities.logprobs)
    upper: dict[str, Any] = {"backend": "vllm", "model": "gpt-fake", "base_url": upper_url, "location": "us"}
    if price:
        upper |= {"price_input_per_mtok": 1.0, "price_output_per_mtok": 4.0}
    return {
        "residency": {"enabled": False},
        "cascade": {"tasks": TASKS},
        "tiers": [
            {"name": "local", "endpoints": [{"backend": "fake",
                                             "model": f"echo?reply={quote(local_reply)}&logprob={logprob}"}]},
            {"name": "frontier", "endpoints": [upper]},
        ]}


@contextmanager
def setup(gateway: GatewayFactory, local_reply: str, upper_reply: str = "negative",
          **kw: Any) -> Iterator[tuple[openai.OpenAI, FakeOpenAI, Any]]:
    with FakeOpenAI(model="gpt-fake", reply=upper_reply).in_thread() as up, \
            gateway(config(local_reply, up.base_url, **kw)) as (url, app):
        yield openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0), up, app


def ask(client: openai.OpenAI, metadata: dict[str, str], **kw: Any) -> Any:
    return client.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=MSG,  # type: ignore[arg-type]
                                                            metadata=metadata, **kw)


def task(name: str) -> dict[str, str]:
    return {"smallfirst_task": name}


def contract(**c: Any) -> dict[str, str]:
    return {"smallfirst_contract": json.dumps(c)}  # OpenAI metadata values are strings


def test_valid_local_answer_is_accepted_without_calling_the_upper_tier(gateway: GatewayFactory) -> None:
    with setup(gateway, "Positive.") as (client, up, app):
        raw = ask(client, task("sentiment"))
        rows = log_rows(app)
    assert raw.headers["x-smallfirst-tier"] == "local" and raw.headers["x-smallfirst-escalations"] == ""
    assert raw.parse().choices[0].message.content == "positive"  # the declared label, exactly
    assert up.requests == [] and [a.outcome for a in rows[0].attempts] == ["ok"]


def test_label_not_allowed_escalates_and_is_logged(gateway: GatewayFactory) -> None:
    with setup(gateway, "It is a nice word") as (client, up, app):
        raw = ask(client, task("sentiment"))
        rows = log_rows(app)
    assert raw.headers["x-smallfirst-tier"] == "frontier"
    assert raw.headers["x-smallfirst-escalations"] == "local->frontier"
    assert raw.parse().choices[0].message.content == "negative"
    assert len([r for r in up.requests if r.path.endswith("/chat/completions")]) == 1
    (row,) = rows
    assert [(a.tier, a.outcome) for a in row.attempts] == [("local", "label_not_allowed"), ("frontier", "ok")]
    assert row.attempts[0].usage.completion_tokens > 0  # the rejected answer's tokens are logged
    assert row.cost_usd > 0


def test_schema_invalid_json_escalates(gateway: GatewayFactory) -> None:
    with setup(gateway, '{"name": 7}', upper_reply='{"name": "Ada", "age": 36}') as (client, _up, app):
        raw = ask(client, contract(json_schema=PERSON, constrain=False))
        rows = log_rows(app)
    assert raw.headers["x-smallfirst-tier"] == "frontier"
    assert json.loads(raw.parse().choices[0].message.content) == {"name": "Ada", "age": 36}
    assert [a.outcome for a in rows[0].attempts] == ["schema_invalid", "ok"]


def test_low_confidence_escalates_and_logprobs_are_not_leaked(gateway: GatewayFactory) -> None:
    with setup(gateway, "positive", logprob=-3.0) as (client, up, app):
        raw = ask(client, task("sentiment_confident"))
        rows = log_rows(app)
    assert [a.outcome for a in rows[0].attempts] == ["low_confidence", "ok"]
    sent = up.requests[-1].body
    assert sent["logprobs"] is True and sent["top_logprobs"] == 20  # the check asked the upper tier for them
    assert raw.parse().choices[0].logprobs is None  # the client did not


def test_confident_local_answer_is_kept(gateway: GatewayFactory) -> None:
    with setup(gateway, "positive", logprob=-0.05) as (client, up, _app):
        raw = ask(client, task("sentiment_confident"))
    assert raw.headers["x-smallfirst-tier"] == "local" and up.requests == []


def test_refusal_escalates(gateway: GatewayFactory) -> None:
    with setup(gateway, "I'm sorry, but I can't help with that.", upper_reply="Here it is.") as (client, _up, app):
        raw = ask(client, contract(max_chars=500))
        rows = log_rows(app)
    assert raw.parse().choices[0].message.content == "Here it is."
    assert [a.outcome for a in rows[0].attempts] == ["refusal", "ok"]


def test_constrained_local_output_stays_in_the_label_set(gateway: GatewayFactory) -> None:
    """The fake honours response_format like a grammar-constrained model: the local tier is asked for it."""
    with setup(gateway, "no idea") as (client, up, _app):
        raw = ask(client, task("sentiment_constrained"))
    assert raw.headers["x-smallfirst-tier"] == "local" and up.requests == []
    assert raw.parse().choices[0].message.content == "positive"


def test_chain_exhausted_returns_the_top_answer_with_the_reason(gateway: GatewayFactory) -> None:
    with setup(gateway, "unsure", upper_reply="also unsure") as (client, _up, app):
        raw = ask(client, task("sentiment"))
        rows = log_rows(app)
    assert raw.status_code == 200 and raw.parse().choices[0].message.content == "also unsure"
    assert "answer failed check (label_not_allowed) but no higher tier may answer" in raw.headers["x-smallfirst-reason"]
    assert [a.outcome for a in rows[0].attempts] == ["label_not_allowed", "label_not_allowed"]


def test_escalation_disabled_for_the_task(gateway: GatewayFactory) -> None:
    with setup(gateway, "unsure") as (client, up, app):
        raw = ask(client, contract(labels=["positive", "negative"], constrain=False, escalate=False))
        rows = log_rows(app)
    assert raw.headers["x-smallfirst-tier"] == "local" and up.requests == []
    assert raw.parse().choices[0].message.content == "unsure"
    assert "escalation is off" in raw.headers["x-smallfirst-reason"]
    assert [a.outcome for a in rows[0].attempts] == ["label_not_allowed"]


def test_verifier_call_is_counted_and_can_reject(gateway: GatewayFactory) -> None:
    with setup(gateway, "Lyon", upper_reply="no") as (client, up, app):
        raw = ask(client, contract(max_chars=100, verifier=True))
        rows = log_rows(app)
    calls = [r for r in up.requests if r.path.endswith("/chat/completions")]
    assert len(calls) == 2 and "Proposed answer:\nLyon" in calls[0].body["messages"][1]["content"]
    assert raw.headers["x-smallfirst-tier"] == "frontier"
    (row,) = rows
    assert [(a.tier, a.outcome) for a in row.attempts] == [("frontier", "verify"), ("local", "verifier_rejected"),
                                                            ("frontier", "ok")]
    assert row.cost_usd == pytest.approx(sum(a.cost_usd for a in row.attempts)) and row.attempts[0].cost_usd > 0


@pytest.mark.parametrize("bad", [False, True])
def test_streaming_contract_is_checked_before_the_first_byte(gateway: GatewayFactory, bad: bool) -> None:
    local = "it depends on context" if bad else "negative"
    with setup(gateway, local, upper_reply="positive") as (client, up, app):
        messages: Any = MSG
        with client.chat.completions.with_streaming_response.create(
                model="smallfirst/auto", messages=messages, metadata=task("sentiment"), stream=True,
                stream_options={"include_usage": True}) as resp:
            tier = resp.headers["x-smallfirst-tier"]
            chunks = list(resp.parse())
        rows = log_rows(app)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ("positive" if bad else "negative")  # nothing of the rejected answer reached the client
    assert tier == ("frontier" if bad else "local")
    assert chunks[-1].usage is not None
    assert [a.outcome for a in rows[0].attempts] == (["label_not_allowed", "ok"] if bad else ["ok"])
    assert rows[0].stream and (len(up.requests) == 1) == bad


def test_unchecked_stream_is_not_buffered(gateway: GatewayFactory) -> None:
    with setup(gateway, "one two three four") as (client, _up, _app):
        messages: Any = MSG
        chunks = list(client.chat.completions.create(model="smallfirst/auto", messages=messages, stream=True))
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 4  # streamed word by word


@pytest.mark.parametrize(("metadata", "param", "words"), [
    ({"smallfirst_task": "nope"}, "metadata.smallfirst_task", "unknown task 'nope'"),
    ({"smallfirst_contract": '{"json_schema": {"type": "object", "properties": {"age": {"type": "integr"}}}}'},
     "metadata.smallfirst_contract", "json_schema: is not a valid JSON schema: at properties/age/type"),
    ({"smallfirst_contract": "{oops"}, "metadata.smallfirst_contract", "not valid JSON"),
])
@pytest.mark.parametrize("stream", [False, True])
def test_bad_contract_is_a_400_naming_the_problem(gateway: GatewayFactory, tmp_path: Path, metadata: dict[str, str],
                                                  param: str, words: str, stream: bool) -> None:
    with setup(gateway, "positive") as (client, up, _app):
        r = httpx.post(str(client.base_url) + "chat/completions", timeout=10,
                       json={"model": "smallfirst/auto", "messages": MSG, "metadata": metadata, "stream": stream})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param and words in err["message"]
    assert up.requests == []


@pytest.mark.parametrize(("local_reply", "contract_", "reason"), [
    ("a" * 50, {"max_chars": 20}, "too_long"),
    ("31 Jan 2024", {"regex": r"\d{4}-\d{2}-\d{2}"}, "regex_mismatch"),
    ('{"age": 3}', {"required": ["name"], "constrain": False}, "missing_field"),
    ("name: Ada", {"json_schema": PERSON, "constrain": False}, "invalid_json"),
    ("I'm not sure, it might be Lyon.", {"max_chars": 100}, "uncertain"),
    ("", {"max_chars": 100}, "empty_answer"),
])
def test_every_format_reason_escalates(gateway: GatewayFactory, local_reply: str, contract_: dict[str, Any],
                                       reason: str) -> None:
    with setup(gateway, local_reply, upper_reply='{"name": "Ada"}') as (client, up, app):
        raw = ask(client, contract(**contract_))
        rows = log_rows(app)
    assert raw.headers["x-smallfirst-tier"] == "frontier" and len(up.requests) == 1
    assert rows[0].attempts[0].outcome == reason
