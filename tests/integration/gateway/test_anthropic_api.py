"""``POST /v1/messages`` driven by the official ``anthropic`` SDK against a real gateway on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pydantic
import pytest
from anthropic.types import Message, MessageParam, ToolParam

from smallfirst.access import KeyStore, Limits
from tests.fakes import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.gateway.conftest import GatewayFactory, log_rows

ECHO: dict[str, Any] = {"log": {"store_prompts": True},
                        "tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]}]}
FALLBACK: dict[str, Any] = {"tiers": [
    {"name": "local", "endpoints": [{"backend": "fake", "model": "echo?fail=unavailable"}]},
    {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo?reply=rescued by the frontier",
                                        "location": "us"}]},
]}
HELLO: list[MessageParam] = [{"role": "user", "content": "hello there"}]
WEATHER: ToolParam = {"name": "get_weather", "description": "Current weather for a city.",
                      "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                       "required": ["city"]}}


ClientFactory = Callable[..., anthropic.Anthropic]


@pytest.fixture
def client() -> Iterator[ClientFactory]:
    """``client(url, key)``: an official SDK client (no retries), closed at teardown."""
    made: list[anthropic.Anthropic] = []

    def make(url: str, key: str | None = "unused", **kwargs: Any) -> anthropic.Anthropic:
        made.append(anthropic.Anthropic(base_url=url, api_key=key, max_retries=0, **kwargs))
        return made[-1]

    yield make
    for c in made:
        c.close()


def sse_events(text: str) -> list[str]:
    return [line.removeprefix("event: ") for line in text.splitlines() if line.startswith("event: ")]


def test_message_with_system_prompt_usage_and_log_row(gateway: GatewayFactory, client: ClientFactory) -> None:
    with gateway(ECHO) as (url, app):
        raw = client(url).messages.with_raw_response.create(model="smallfirst/auto", max_tokens=64,
                                                            system="Be brief.", messages=HELLO)
        msg = raw.parse()
        rows = log_rows(app)
    assert raw.headers["x-smallfirst-tier"] == "local" and raw.headers["x-smallfirst-model"] == "echo"
    assert msg.id.startswith("msg_") and msg.type == "message" and msg.role == "assistant" and msg.model == "echo"
    assert [b.type for b in msg.content] == ["text"] and msg.content[0].type == "text"
    assert msg.content[0].text == "echo: hello there"
    assert msg.stop_reason == "end_turn" and msg.stop_sequence is None
    assert msg.usage.output_tokens == 3 and msg.usage.input_tokens == 6  # "Be brief.\nhello there": ceil(21 chars / 4)
    assert msg._request_id == raw.headers["x-request-id"]
    (row,) = rows
    assert row.request_id == raw.headers["x-request-id"] and row.status == 200 and row.tier == "local"
    assert row.requested_model == "smallfirst/auto" and not row.stream
    assert (row.prompt_tokens, row.completion_tokens) == (6, 3)
    assert row.prompt_text == "Be brief.\nhello there" and row.response_text == "echo: hello there"


def test_system_as_text_blocks_and_multi_turn(gateway: GatewayFactory, client: ClientFactory) -> None:
    with gateway(ECHO) as (url, app):
        msg = client(url).messages.create(
            model="smallfirst/local", max_tokens=64,
            system=[{"type": "text", "text": "Rule one."}, {"type": "text", "text": "Rule two."}],
            messages=[{"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"},
                      {"role": "user", "content": [{"type": "text", "text": "second question"}]}])
        (row,) = log_rows(app)
    assert msg.content[0].type == "text" and msg.content[0].text == "echo: second question"
    assert row.prompt_text == "Rule one.\n\nRule two.\nfirst\nok\nsecond question"


@pytest.mark.anyio
async def test_async_client(gateway: GatewayFactory) -> None:
    with gateway(ECHO) as (url, _):
        async with anthropic.AsyncAnthropic(base_url=url, api_key="unused", max_retries=0) as c:
            msg = await c.messages.create(model="echo", max_tokens=64, messages=HELLO)
            async with c.messages.stream(model="echo", max_tokens=64, messages=HELLO) as s:
                text = "".join([t async for t in s.text_stream])
                final = await s.get_final_message()
    assert msg.content[0].type == "text" and msg.content[0].text == "echo: hello there"
    assert text == "echo: hello there" and final.usage.output_tokens == 3


def test_stream_text_and_final_message(gateway: GatewayFactory, client: ClientFactory) -> None:
    with gateway(ECHO) as (url, app):
        with client(url).messages.stream(model="smallfirst/auto", max_tokens=64, system="Be brief.",
                                         messages=HELLO) as s:
            text = "".join(s.text_stream)
            final = s.get_final_message()
            tier = s.response.headers["x-smallfirst-tier"]
        (row,) = log_rows(app)
    assert text == "echo: hello there" and tier == "local"
    assert final.content[0].type == "text" and final.content[0].text == text
    assert final.stop_reason == "end_turn" and final.id.startswith("msg_")
    assert (final.usage.input_tokens, final.usage.output_tokens) == (6, 3)
    assert row.stream and row.status == 200 and row.response_text == text
    assert (row.prompt_tokens, row.completion_tokens) == (6, 3)


def test_stream_event_sequence_on_the_wire(gateway: GatewayFactory) -> None:
    body = {"model": "smallfirst/auto", "max_tokens": 64, "stream": True, "messages": HELLO}
    with gateway(ECHO) as (url, _):
        r = httpx.post(url + "/v1/messages", json=body, timeout=10)
    assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
    events = sse_events(r.text)
    assert events == ["message_start", "content_block_start", *["content_block_delta"] * 3, "content_block_stop",
                      "message_delta", "message_stop"]
    assert r.text.count("\ndata: ") == len(events)


@pytest.mark.parametrize("stream", [False, True])
def test_max_tokens_stop_reason(gateway: GatewayFactory, stream: bool, client: ClientFactory) -> None:
    with gateway(ECHO) as (url, _):
        c = client(url)
        messages: list[MessageParam] = [{"role": "user", "content": "one two three four"}]
        if stream:
            with c.messages.stream(model="smallfirst/auto", max_tokens=2, messages=messages) as s:
                msg: Message = s.get_final_message()
        else:
            msg = c.messages.create(model="smallfirst/auto", max_tokens=2, messages=messages)
    assert msg.stop_reason == "max_tokens" and msg.usage.output_tokens == 2
    assert msg.content[0].type == "text" and msg.content[0].text.strip() == "echo: one"


@pytest.mark.parametrize("stream", [False, True])
def test_tool_use_round_trip(gateway: GatewayFactory, stream: bool, client: ClientFactory) -> None:
    # the fake OpenAI upstream streams tool arguments in 8-character pieces and records the requests
    with FakeOpenAI(model="up-model").in_thread() as srv:
        cfg = {"tiers": [{"name": "local", "endpoints": [{"backend": "openai_compat", "model": "up-model",
                                                          "base_url": srv.base_url, "location": "local"}]}]}
        with gateway(cfg) as (url, _):
            c = client(url)
            ask: list[MessageParam] = [{"role": "user", "content": "weather in Paris?"}]
            first: Message
            if stream:
                with c.messages.stream(model="smallfirst/auto", max_tokens=64, tools=[WEATHER], messages=ask) as s:
                    first = s.get_final_message()
            else:
                first = c.messages.create(model="smallfirst/auto", max_tokens=64, tools=[WEATHER], messages=ask)
            (use,) = first.content
            assert first.stop_reason == "tool_use" and use.type == "tool_use"
            assert use.name == "get_weather" and use.input == {"city": "x"}
            second = c.messages.create(
                model="smallfirst/auto", max_tokens=64, tools=[WEATHER], tool_choice={"type": "none"},
                messages=[*ask, {"role": "assistant", "content": first.content},
                          {"role": "user", "content": [
                              {"type": "tool_result", "tool_use_id": use.id, "content": "18 C, sunny"},
                              {"type": "text", "text": "and tomorrow?"}]}])
        sent = srv.requests[-1].body
    assert second.stop_reason == "end_turn" and second.content[0].type == "text"
    assert second.content[0].text == "echo: and tomorrow?"
    assert sent["messages"] == [
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": use.id, "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city":"x"}'}}]},
        {"role": "tool", "tool_call_id": use.id, "content": "18 C, sunny"},
        {"role": "user", "content": "and tomorrow?"},
    ]
    assert sent["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "parameters": WEATHER["input_schema"], "description": WEATHER["description"]}}]
    assert sent["tool_choice"] == "none" and sent["max_tokens"] == 64


def test_through_to_an_anthropic_backend(gateway: GatewayFactory, client: ClientFactory,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Anthropic client → gateway → Anthropic backend: the fake checks tool_result/tool_use pairing."""
    monkeypatch.setenv("TEST_ANTHROPIC_KEY", "sk-ant-test")
    with FakeAnthropic(api_key="sk-ant-test").in_thread() as srv:
        cfg = {"tiers": [{"name": "frontier", "endpoints": [{"backend": "anthropic", "model": "claude-fake-1",
                                                             "base_url": srv.url, "api_key_env": "TEST_ANTHROPIC_KEY",
                                                             "location": "us"}]}]}
        with gateway(cfg) as (url, _):
            c = client(url)
            ask: list[MessageParam] = [{"role": "user", "content": "weather in Paris?"}]
            first = c.messages.create(model="smallfirst/auto", max_tokens=64, tools=[WEATHER],
                                      tool_choice={"type": "any"}, messages=ask)
            (use,) = first.content
            assert use.type == "tool_use"
            with c.messages.stream(model="smallfirst/auto", max_tokens=64, system="Be brief.", messages=[
                    *ask, {"role": "assistant", "content": first.content},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]}]
                    ) as s:
                final = s.get_final_message()
        sent = srv.requests[-1].body
    assert first.stop_reason == "tool_use" and use.name == "get_weather"
    assert final.stop_reason == "end_turn" and final.content[0].type == "text"
    assert sent["system"] == "Be brief." and sent["messages"][-1]["content"][0]["tool_use_id"] == use.id


def test_structured_output_with_parse(gateway: GatewayFactory, client: ClientFactory) -> None:
    class Weather(pydantic.BaseModel):
        city: str
        celsius: int

    with gateway(ECHO) as (url, _):
        msg = client(url).messages.parse(model="smallfirst/auto", max_tokens=64, output_format=Weather,
                                         messages=HELLO)
    assert msg.parsed_output == Weather(city="text", celsius=0)


def test_fallback_to_next_tier_with_decision_headers(gateway: GatewayFactory, client: ClientFactory) -> None:
    with gateway(FALLBACK) as (url, app):
        c = client(url)
        raw = c.messages.with_raw_response.create(model="smallfirst/auto", max_tokens=64, messages=HELLO)
        with c.messages.stream(model="smallfirst/auto", max_tokens=64, messages=HELLO) as s:
            text = "".join(s.text_stream)
            headers = s.response.headers
        rows = log_rows(app)
    for h in (raw.headers, headers):
        assert h["x-smallfirst-tier"] == "frontier" and h["x-smallfirst-escalations"] == "local->frontier"
    assert "x-smallfirst-cost-usd" in raw.headers
    content = raw.parse().content[0]
    assert content.type == "text" and content.text == text == "rescued by the frontier"
    assert len(rows) == 2
    for row in rows:
        assert row.tier == "frontier" and row.status == 200
        assert [a.outcome for a in row.attempts] == ["upstream_unavailable", "ok"]


def test_stream_cut_is_an_error_event(gateway: GatewayFactory, client: ClientFactory) -> None:
    cfg = {"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo?fail=stream_cut"}]}]}
    with gateway(cfg) as (url, app):
        with pytest.raises(anthropic.APIStatusError) as info, \
                client(url).messages.stream(model="smallfirst/auto", max_tokens=64, messages=HELLO) as s:
            s.get_final_message()
        (row,) = log_rows(app)
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error" and body["error"]["type"] == "api_error"
    assert "stream" in body["error"]["message"]
    assert row.status == 502 and row.error_code == "upstream_stream_interrupted"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": HELLO}, "max_tokens"),
        ({"messages": HELLO, "max_tokens": 0}, "max_tokens"),
        ({"messages": [], "max_tokens": 8}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}], "max_tokens": 8}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}], "max_tokens": 8},
         "messages.0.content.0.type"),
        ({"messages": HELLO, "max_tokens": 8, "temperature": 1.5}, "temperature"),
        ({"messages": HELLO, "max_tokens": 8, "mcp_servers": []}, "mcp_servers"),
        ({"messages": HELLO, "max_tokens": 8, "tools": [{"type": "web_search_20250305", "name": "web_search"}]},
         "tools.0.type"),
    ],
)
def test_bad_request_is_anthropic_shaped(gateway: GatewayFactory, client: ClientFactory, body: dict[str, Any],
                                         param: str) -> None:
    with gateway(ECHO) as (url, app):
        c = client(url)
        with pytest.raises(anthropic.BadRequestError) as info:
            c.post("/v1/messages", body={"model": "smallfirst/auto", **body}, cast_to=Message)
        rows = log_rows(app)
    err = info.value
    assert err.status_code == 400 and isinstance(err.body, dict)
    assert err.body["type"] == "error" and err.body["error"]["type"] == "invalid_request_error"
    assert err.body["error"]["message"].startswith(param + ":")
    assert err.request_id is not None and err.body["request_id"] == err.request_id
    (row,) = rows
    assert row.status == 400 and row.error_code == "invalid_request"


def test_unknown_model_and_bad_json(gateway: GatewayFactory, client: ClientFactory) -> None:
    with gateway(ECHO) as (url, app):
        with pytest.raises(anthropic.NotFoundError) as info:
            client(url).messages.create(model="claude-nonexistent", max_tokens=8, messages=HELLO)
        broken = httpx.post(url + "/v1/messages", content=b"{not json", timeout=10)
        rows = log_rows(app)
    assert isinstance(info.value.body, dict) and info.value.body["error"]["type"] == "not_found_error"
    assert "claude-nonexistent" in info.value.body["error"]["message"]
    assert broken.status_code == 400 and broken.json()["error"]["type"] == "invalid_request_error"
    assert sorted(r.status for r in rows) == [400, 404]


@pytest.fixture
def key(tmp_path: Path) -> Iterator[tuple[str, str]]:
    store = KeyStore(str(tmp_path / "log.db"))
    secret, info = store.create("claude-user", Limits())
    store.close()
    yield secret, info.id


def test_gateway_key_in_x_api_key(gateway: GatewayFactory, key: tuple[str, str], client: ClientFactory) -> None:
    secret, kid = key
    with gateway({**ECHO, "access": {"refresh_ms": 0}}) as (url, app):
        msg = client(url, secret).messages.create(model="smallfirst/auto", max_tokens=8, messages=HELLO)
        with pytest.raises(anthropic.AuthenticationError) as info:
            client(url, "sf-wrong").messages.create(model="smallfirst/auto", max_tokens=8, messages=HELLO)
        bearer = client(url, None, auth_token=secret)
        via_bearer = bearer.messages.create(model="smallfirst/auto", max_tokens=8, messages=HELLO)
        rows = log_rows(app)
    assert msg.content[0].type == "text" and via_bearer.content[0].type == "text"
    assert isinstance(info.value.body, dict) and info.value.body["error"]["type"] == "authentication_error"
    assert sorted((r.status, r.api_key_id) for r in rows) == [(200, kid), (200, kid), (401, None)]


def test_sensitive_request_stays_local(gateway: GatewayFactory, client: ClientFactory) -> None:
    cfg = {"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
                     {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo?reply=remote",
                                                         "location": "us"}]}]}
    secret: list[MessageParam] = [{"role": "user", "content": [
        {"type": "text", "text": "Email jane.doe@example.com the card 4111 1111 1111 1111 please"}]}]
    with gateway(cfg) as (url, app):
        c = client(url)
        raw = c.messages.with_raw_response.create(model="smallfirst/auto", max_tokens=64, messages=secret)
        with pytest.raises(anthropic.PermissionDeniedError) as info:
            c.messages.create(model="smallfirst/frontier", max_tokens=64, messages=secret)
        rows = log_rows(app)
    assert raw.headers["x-smallfirst-tier"] == "local" and "residency" in raw.headers["x-smallfirst-reason"]
    assert info.value.status_code == 403 and "jane.doe" not in str(info.value.body)
    assert sorted((r.status, r.tier) for r in rows) == [(200, "local"), (403, None)]
    assert all(r.sensitive for r in rows)
