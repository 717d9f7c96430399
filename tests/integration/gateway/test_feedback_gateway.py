"""``POST /v1/feedback`` through the real gateway: the x-smallfirst-feedback link on every answer (openai and
anthropic SDKs), feedback kept in the request log's table, 404 for an unknown or another key's request,
400 with ``param`` for bad input, and text kept only under the log's rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai

from smallfirst.access import KeyStore, Limits
from tests.integration.gateway.conftest import GatewayFactory

CFG: dict[str, Any] = {"access": {"refresh_ms": 0}, "tiers": [
    {"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
    {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo", "name": "front", "location": "us"}]},
]}
MSG = [{"role": "user", "content": "hello there"}]


def chat(url: str, key: str = "x") -> Any:
    with openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0) as client:
        return client.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=MSG)  # type: ignore[arg-type]


def feedback(url: str, link: str, key: str | None = None, **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(url + link, json=body, headers=headers, timeout=10)


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    return err


def test_every_answer_links_to_feedback_and_a_score_is_kept(gateway: GatewayFactory) -> None:
    with gateway(CFG) as (url, app):
        raw = chat(url)
        rid = raw.headers["x-request-id"]
        assert raw.headers["x-smallfirst-feedback"] == f"/v1/feedback?request_id={rid}"
        r = feedback(url, raw.headers["x-smallfirst-feedback"], score=0.25)
        with anthropic.Anthropic(base_url=url, api_key="x", max_retries=0) as ac:
            msg = ac.messages.with_raw_response.create(model="smallfirst/auto", max_tokens=16,
                                                       messages=[{"role": "user", "content": "hi"}])
        with openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as oc:
            resp = oc.responses.with_raw_response.create(model="smallfirst/auto", input="hi")
        by_body = feedback(url, "/v1/feedback", request_id=msg.headers["x-request-id"], label="good")
        rows = app.pipeline.store.feedback()  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    assert r.json() == {"object": "feedback", "id": r.json()["id"], "request_id": rid, "tier": "local",
                        "score": 0.25, "label": None}
    assert msg.headers["x-smallfirst-feedback"].endswith(msg.headers["x-request-id"])
    assert resp.headers["x-smallfirst-feedback"].endswith(resp.headers["x-request-id"])
    assert by_body.status_code == 200 and by_body.json()["score"] == 1.0
    assert [(f.request_id, f.tier, f.score, f.label) for f in rows] == [
        (rid, "local", 0.25, None), (msg.headers["x-request-id"], "local", None, "good")]


def test_unknown_request_and_bad_input_are_openai_errors(gateway: GatewayFactory) -> None:
    with gateway(CFG) as (url, _app):
        rid = chat(url).headers["x-request-id"]
        unknown = feedback(url, "/v1/feedback", request_id="nope", score=1)
        too_big = feedback(url, "/v1/feedback", request_id=rid, score=1.5)
        as_bool = feedback(url, "/v1/feedback", request_id=rid, score=True)
        label = feedback(url, "/v1/feedback", request_id=rid, label="meh")
        nothing = feedback(url, "/v1/feedback", request_id=rid, comment="hm")
        no_id = feedback(url, "/v1/feedback", score=1)
        extra = feedback(url, "/v1/feedback", request_id=rid, score=1, rating=5)
        get = httpx.get(url + "/v1/feedback", timeout=10)
    err = error_of(unknown, 404)
    assert err["param"] == "request_id" and "nope" in err["message"]
    assert error_of(too_big, 400)["param"] == "score" and error_of(as_bool, 400)["param"] == "score"
    assert error_of(label, 400)["param"] == "label"
    assert error_of(nothing, 400)["param"] == "score"
    assert error_of(no_id, 400)["param"] == "request_id"
    assert error_of(extra, 400)["param"] == "rating"
    assert get.status_code == 405


def test_a_key_gives_feedback_only_on_its_own_requests(gateway: GatewayFactory, tmp_path: Path) -> None:
    keys = KeyStore(str(tmp_path / "log.db"))
    alice, _ = keys.create("alice", Limits())
    bob, _ = keys.create("bob", Limits())
    keys.close()
    with gateway(CFG) as (url, _app):
        link = chat(url, alice).headers["x-smallfirst-feedback"]
        anonymous = feedback(url, link, score=1)
        other = feedback(url, link, bob, score=0)
        own = feedback(url, link, alice, score=1)
    assert error_of(anonymous, 401)["code"] == "invalid_api_key"
    assert error_of(other, 404)["param"] == "request_id"  # another key's request is not found either
    assert own.status_code == 200


def test_correction_text_is_kept_only_under_the_logs_rule(gateway: GatewayFactory) -> None:
    with gateway(CFG) as (url, app):
        link = chat(url).headers["x-smallfirst-feedback"]
        off = feedback(url, link, correction="Hello! How can I help?", comment="too curt")
        rows = app.pipeline.store.feedback()  # type: ignore[attr-defined]
    assert off.json()["text_kept"] is False and "store_prompts" in off.json()["text_note"]
    assert off.json()["label"] == "bad" and off.json()["score"] == 0.0  # a correction alone: bad
    assert rows[0].correction is None and rows[0].comment is None and rows[0].text_dropped
    with gateway({**CFG, "log": {"store_prompts": True}}) as (url, app):
        link = chat(url).headers["x-smallfirst-feedback"]
        on = feedback(url, link, correction="Hello! How can I help?")
        rows = app.pipeline.store.feedback()  # type: ignore[attr-defined]
    assert on.json()["text_kept"] is True and rows[-1].correction == "Hello! How can I help?"
