"""The gateway on a real uvicorn server, driven by the official openai SDK and raw HTTP (fake backend)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import openai
import pytest

from tests.integration.gateway.conftest import GatewayFactory, log_rows, reopen_log

TIERS = {"tiers": [
    {"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
    {"name": "mid", "endpoints": [{"backend": "fake", "model": "echo?reply=mid answer",
                                   "name": "mid-fake", "location": "eu",
                                   "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0}]},
]}
MSG = [{"role": "user", "content": "hello there"}]


def test_sdk_sync_async_and_stream(gateway: GatewayFactory, tmp_path: Path) -> None:
    with gateway(TIERS) as (url, _):
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=MSG)  # type: ignore[arg-type]
        resp = raw.parse()
        assert resp.choices[0].message.content == "echo: hello there"
        assert resp.choices[0].finish_reason == "stop"
        usage = resp.usage
        assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
        assert raw.headers["x-smallfirst-tier"] == "local"
        assert raw.headers["x-smallfirst-reason"].startswith("rules:")
        assert float(raw.headers["x-smallfirst-cost-usd"]) == 0.0

        async def go() -> str:
            ac = openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
            r = await ac.chat.completions.create(model="smallfirst/mid", messages=MSG)  # type: ignore[arg-type]
            await ac.close()
            return r.choices[0].message.content or ""

        assert asyncio.run(go()) == "mid answer"

        stream = client.chat.completions.create(model="smallfirst/auto", messages=MSG, stream=True,  # type: ignore[arg-type]
                                                stream_options={"include_usage": True})
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "echo: hello there"
        assert chunks[0].choices[0].delta.role == "assistant"
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
        assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
        models = [m.id for m in client.models.list()]
        assert models[:3] == ["smallfirst/auto", "smallfirst/local", "smallfirst/mid"]
        assert "echo" in models
    store = reopen_log(tmp_path)
    rows = store.query()
    store.close()
    assert [r.tier for r in rows] == ["local", "mid", "local"]
    assert rows[1].cost_usd > 0 and rows[1].reason == "pinned: tier mid requested"
    assert rows[2].stream and rows[2].ttft_ms is not None and rows[2].completion_tokens > 0
    assert all(r.prompt_text is None for r in rows)  # no prompt text without opt-in


def test_sse_wire_format_ends_with_done(gateway: GatewayFactory) -> None:
    with gateway(TIERS) as (url, _), httpx.stream(
        "POST", url + "/v1/chat/completions", json={"model": "smallfirst/auto", "messages": MSG, "stream": True}
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events)
    assert '"usage"' not in "".join(events)  # include_usage not requested


def test_fallback_to_next_tier_is_recorded(gateway: GatewayFactory, tmp_path: Path) -> None:
    cfg = {"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo?fail=unavailable"}]},
                     *TIERS["tiers"][1:]]}
    with gateway(cfg) as (url, _):
        r = httpx.post(url + "/v1/chat/completions", json={"model": "smallfirst/auto", "messages": MSG})
        assert r.status_code == 200, r.text
        assert r.headers["x-smallfirst-tier"] == "mid"
        assert r.headers["x-smallfirst-escalations"] == "local->mid"
        assert r.json()["choices"][0]["message"]["content"] == "mid answer"
    store = reopen_log(tmp_path)
    (row,) = store.query()
    store.close()
    assert [a.outcome for a in row.attempts] == ["upstream_unavailable", "ok"]
    assert row.escalations == ("local->mid",)


def test_prompt_text_only_with_opt_in(gateway: GatewayFactory, tmp_path: Path) -> None:
    with gateway({**TIERS, "log": {"store_prompts": True}}) as (url, app):
        httpx.post(url + "/v1/chat/completions", json={"model": "smallfirst/auto", "messages": MSG})
        rows = log_rows(app)
    assert rows[0].prompt_text == "hello there" and rows[0].response_text == "echo: hello there"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b"{not json", 400, "body"),
        (b"", 400, "body"),
        (b'{"model": "smallfirst/auto"}', 400, "messages"),
        (b'{"model": "smallfirst/auto", "messages": []}', 400, "messages"),
        (b'{"model": "gpt-unknown", "messages": [{"role": "user", "content": "x"}]}', 404, "model"),
        (b'{"model": 5, "messages": [{"role": "user", "content": "x"}]}', 400, "model"),
        (b'{"model": "smallfirst/auto", "messages": [{"role": "user", "content": "x"}], "stream": "1"}', 400,
         "stream"),
        (b'{"model": "smallfirst/auto", "messages": [{"role": "user", "content": 1}]}', 400,
         "messages[0].content"),
    ],
)
def test_bad_input_gets_openai_error_and_a_log_row(gateway: GatewayFactory, body: bytes, status: int,
                                                   param: str) -> None:
    with gateway(TIERS) as (url, app):
        r = httpx.post(url + "/v1/chat/completions", content=body, headers={"content-type": "application/json"})
        rows = log_rows(app)
    assert r.status_code == status
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["param"] == param and err["message"]
    assert len(rows) == 1 and rows[0].status == status and rows[0].error_code == err["code"]
    assert rows[0].request_id == r.headers["x-request-id"]


def test_oversized_body_is_413(gateway: GatewayFactory) -> None:
    with gateway({**TIERS, "server": {"max_body_bytes": 2048}}) as (url, app):
        big = {"model": "smallfirst/auto", "messages": [{"role": "user", "content": "x" * 5000}]}
        r = httpx.post(url + "/v1/chat/completions", json=big)
        rows = log_rows(app)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert rows[0].status == 413


def test_sdk_raises_typed_errors(gateway: GatewayFactory) -> None:
    with gateway(TIERS) as (url, _):
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.NotFoundError) as ei:
            client.chat.completions.create(model="nope", messages=MSG)  # type: ignore[arg-type]
        assert "smallfirst/auto" in str(ei.value)
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="smallfirst/auto", messages=[])


def test_unknown_route_and_method(gateway: GatewayFactory) -> None:
    with gateway(TIERS) as (url, _):
        assert httpx.get(url + "/v2/x").status_code == 404
        r = httpx.get(url + "/v1/chat/completions")
        assert r.status_code == 405 and r.json()["error"]["type"] == "invalid_request_error"


def test_healthz_reports_each_backend(gateway: GatewayFactory) -> None:
    cfg = {"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
                     {"name": "mid", "endpoints": [{"backend": "fake", "model": "echo?fail=unavailable"}]}]}
    with gateway(cfg) as (url, _):
        r = httpx.get(url + "/healthz")
    body = r.json()
    assert [b["tier"] for b in body["backends"]] == ["local", "mid"]
    assert body["backends"][0]["ok"] is True
    assert body["status"] in {"ok", "degraded"}


def test_stream_cut_mid_way_ends_with_error_event_and_log_row(gateway: GatewayFactory, tmp_path: Path) -> None:
    cfg = {"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo?fail=stream_cut"}]}]}
    with gateway(cfg) as (url, _), httpx.stream(
        "POST", url + "/v1/chat/completions", json={"model": "smallfirst/auto", "messages": MSG, "stream": True}
    ) as r:
        events = [line for line in r.iter_lines() if line]
    assert '"error"' in events[-1] and "[DONE]" not in events[-1]
    store = reopen_log(tmp_path)
    (row,) = store.query()
    store.close()
    assert row.status == 502 and row.error_code == "upstream_stream_interrupted"
