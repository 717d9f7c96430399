"""Shadow runs through the real gateway ([routing] shadow_share): a request the lowest tier served is also
sent to the next tier after the answer, logged as its own row with its cost; never for a sensitive request
or a key that may not use that tier; the rows become outcomes for router train --from-log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import openai

from smallfirst.access import KeyStore, Limits
from smallfirst.routing.from_log import outcomes_from_log
from smallfirst.server.app import Gateway
from tests.integration.gateway.conftest import GatewayFactory


def config(upper_model: str, share: float = 1.0) -> dict[str, Any]:
    return {"routing": {"shadow_share": share}, "log": {"store_prompts": True}, "access": {"refresh_ms": 0},
            "tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
                      {"name": "frontier", "endpoints": [{"backend": "fake", "model": upper_model, "name": "front",
                                                          "location": "us", "price_input_per_mtok": 10.0,
                                                          "price_output_per_mtok": 30.0}]}]}


def ask(url: str, text: str, key: str = "x", model: str = "smallfirst/auto") -> Any:
    with openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0) as client:
        return client.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": text}])


def rows_when(app: Gateway, n: int) -> list[Any]:
    """The log's rows once it holds ``n`` (a shadow run is written after its answer was returned)."""
    deadline = time.monotonic() + 20
    while True:
        app.pipeline.store.flush()
        rows = app.pipeline.store.query()
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def test_a_local_answer_is_shadowed_by_the_next_tier_and_logged_with_its_cost(gateway: GatewayFactory) -> None:
    with gateway(config("echo?reply=a%20different%20answer")) as (url, app):
        raw = ask(url, "what is the capital of France?")
        rows = rows_when(app, 2)
    assert raw.headers["x-smallfirst-tier"] == "local"
    served, shadow = rows
    assert served.tier == "local" and served.request_id == raw.headers["x-request-id"]
    assert shadow.requested_model == "smallfirst/shadow" and shadow.tier == "frontier" and shadow.status == 200
    assert [(a.tier, a.outcome) for a in shadow.attempts] == [("local", "shadowed"), ("frontier", "shadow_differ")]
    assert shadow.cost_usd > 0 and shadow.cost_usd == shadow.attempts[1].cost_usd
    assert shadow.prompt_text == "what is the capital of France?" and shadow.response_text == "a different answer"
    got = outcomes_from_log(rows)
    assert [(r.tier, r.score) for r in got.rows] == [("frontier", 1.0)] and got.from_shadow == 1


def test_agreeing_answers_score_both_tiers(gateway: GatewayFactory) -> None:
    with gateway(config("echo")) as (url, app):  # the same fake: the same answer
        ask(url, "say hello")
        rows = rows_when(app, 2)
    assert rows[1].attempts[1].outcome == "shadow_agree"
    got = outcomes_from_log(rows)
    assert sorted((r.tier, r.score) for r in got.rows) == [("frontier", 1.0), ("local", 1.0)]
    assert len({r.prompt_id for r in got.rows}) == 1


def test_never_sensitive_pinned_or_to_a_tier_the_key_may_not_use(gateway: GatewayFactory, tmp_path: Path) -> None:
    with gateway(config("echo")) as (url, app):
        raw = ask(url, "my email is alice@example.com, is that a good address?")
        ask(url, "say hello", model="smallfirst/local")  # pinned: the client chose the tier
        keys = KeyStore(str(tmp_path / "log.db"))
        local_only, _ = keys.create("local-only", Limits(tiers=("local",)))
        keys.close()
        ask(url, "say hello", local_only)
        time.sleep(0.5)  # room for a shadow run that must not happen
        rows = rows_when(app, 4)
    assert raw.headers["x-smallfirst-tier"] == "local"
    assert len(rows) == 3 and all(r.requested_model != "smallfirst/shadow" for r in rows)


def test_off_by_default(gateway: GatewayFactory) -> None:
    with gateway(config("echo", share=0.0)) as (url, app):
        ask(url, "say hello")
        time.sleep(0.3)
        rows = rows_when(app, 1)
    assert len(rows) == 1 and not any(type(p).__name__ == "ShadowPolicy" for p in app.pipeline.policies)


def test_a_streamed_local_answer_is_shadowed_too(gateway: GatewayFactory) -> None:
    with gateway(config("echo")) as (url, app), openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as c:
        chunks = list(c.chat.completions.create(model="smallfirst/auto", stream=True,
                                                messages=[{"role": "user", "content": "say hello"}]))
        rows = rows_when(app, 2)
    assert chunks and rows[0].stream and rows[0].tier == "local"
    assert rows[1].requested_model == "smallfirst/shadow" and not rows[1].stream
    assert rows[1].attempts[1].outcome == "shadow_agree"  # the same echo, streamed or not
