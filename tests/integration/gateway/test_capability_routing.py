"""Capability-aware routing through the real gateway (openai SDK on 127.0.0.1).

Local tier: the in-process fake backend declared text-only and without tools (``[tiers.endpoints.capabilities]``
overrides what it declares). Mid: a protocol-faithful fake OpenAI server that answers tool calls with
arguments that break the tool's schema. Frontier: the fake backend, with images.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from smallfirst.server.app import Gateway
from tests.fakes.base import Answer
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.gateway.conftest import GatewayFactory, log_rows

IMAGE = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
         "AAAABJRU5ErkJggg==")
TOOLS: list[Any] = [{"type": "function", "function": {
    "name": "get_weather", "description": "weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


class BadArgs(FakeOpenAI):
    """Answers every tool request with a call whose ``city`` is a number (the schema wants a string)."""

    def answer(self, last_user: str, max_tokens: int | None,
               tools: list[tuple[str, dict[str, Any]]] | None = None) -> Answer:
        if tools:
            return Answer("", tool_calls=[(tools[0][0], {"city": 42})])
        return super().answer(last_user, max_tokens, tools)


@pytest.fixture
def mid() -> Iterator[FakeOpenAI]:
    with BadArgs(model="mid-model").in_thread() as srv:
        yield srv


def three_tiers(mid_url: str) -> dict[str, Any]:
    return {"log": {"store_prompts": True}, "tiers": [
        {"name": "local", "endpoints": [{"backend": "fake", "model": "echo",
                                         "capabilities": {"tools": False, "named_tools": False}}]},
        {"name": "mid", "endpoints": [{"backend": "openai_compat", "model": "mid-model", "base_url": mid_url,
                                       "location": "us", "price_input_per_mtok": 1, "price_output_per_mtok": 2,
                                       "capabilities": {"images": True}}]},
        {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo?reply=frontier", "name": "frontier-fake",
                                            "location": "us", "capabilities": {"images": True}}]},
    ]}


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)


def tier_of(raw: Any) -> str:
    return str(raw.headers["x-smallfirst-tier"])


def test_plain_text_stays_local_and_tools_skip_the_tier_without_them(gateway: GatewayFactory,
                                                                    mid: FakeOpenAI) -> None:
    with gateway(three_tiers(mid.base_url)) as (url, app), client(url) as c:
        plain = c.chat.completions.with_raw_response.create(
            model="smallfirst/auto", messages=[{"role": "user", "content": "hello"}])
        tools = c.chat.completions.with_raw_response.create(
            model="smallfirst/auto", messages=[{"role": "user", "content": "weather in Paris?"}], tools=TOOLS)
        rows = log_rows(app)
    assert tier_of(plain) == "local"
    # mid answered a call that breaks the schema: the check rejected it and the request escalated
    assert tier_of(tools) == "frontier"
    answer = tools.parse()
    assert answer.choices[0].finish_reason == "tool_calls"
    calls = answer.choices[0].message.tool_calls
    assert calls and calls[0].type == "function" and calls[0].function.name == "get_weather"
    reason = tools.headers["x-smallfirst-reason"]
    assert "capability" in reason and "local" in reason
    row = next(r for r in rows if r.tier == "frontier")
    assert [a.outcome for a in row.attempts] == ["tool_args_schema", "ok"]
    assert row.escalations == ("mid->frontier",)
    assert len(mid.requests) == 1


def test_images_go_to_a_tier_that_sees_them_and_nobody_can_is_a_clear_400(gateway: GatewayFactory,
                                                                        mid: FakeOpenAI) -> None:
    msg: Any = [{"role": "user", "content": [{"type": "text", "text": "what is in this picture?"},
                                            {"type": "image_url", "image_url": {"url": IMAGE}}]}]
    with gateway(three_tiers(mid.base_url)) as (url, _), client(url) as c:
        raw = c.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=msg)
    assert tier_of(raw) == "mid"
    assert "local cannot do image input" in raw.headers["x-smallfirst-reason"]
    local_only = {"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]}]}
    with gateway(local_only) as (url, _), client(url) as c, pytest.raises(openai.BadRequestError) as err:
        c.chat.completions.create(model="smallfirst/auto", messages=msg)
    body: Any = err.value.body
    assert err.value.status_code == 400 and body["code"] == "capability_missing" and body["param"] == "messages"
    assert "image input" in body["message"] and "capabilities" in body["message"]


def test_sensitive_image_is_not_sent_off_the_host_even_though_a_remote_tier_could_see_it(
        gateway: GatewayFactory, mid: FakeOpenAI) -> None:
    msg: Any = [{"role": "user", "content": [
        {"type": "text", "text": "Card 4111 1111 1111 1111, email jane.doe@example.com: read this receipt"},
        {"type": "image_url", "image_url": {"url": IMAGE}}]}]
    with gateway(three_tiers(mid.base_url)) as (url, _), client(url) as c, \
            pytest.raises(openai.BadRequestError) as err:
        c.chat.completions.create(model="smallfirst/auto", messages=msg)
    body: Any = err.value.body
    assert body["code"] == "capability_missing"
    assert "mid, frontier could, but residency or the API key excludes it" in body["message"]
    assert "4111" not in body["message"]
    assert mid.requests == []


def test_a_shape_error_falls_back_up_the_chain_but_never_off_the_host_for_sensitive_data(
        gateway: GatewayFactory, mid: FakeOpenAI) -> None:
    cfg = three_tiers(mid.base_url)
    cfg["tiers"][0]["endpoints"][0]["model"] = "echo?fail=bad_request"
    with gateway(cfg) as (url, app), client(url) as c:
        raw = c.chat.completions.with_raw_response.create(
            model="smallfirst/auto", messages=[{"role": "user", "content": "hello"}])
        with pytest.raises(openai.BadRequestError) as err:
            c.chat.completions.create(model="smallfirst/auto", messages=[
                {"role": "user", "content": "my card is 4111 1111 1111 1111, summarise my spending"}])
        rows = log_rows(app)
    assert tier_of(raw) == "mid"
    assert raw.headers["x-smallfirst-escalations"] == "local->mid"
    assert err.value.status_code == 400 and "fake bad request" in str(err.value)
    assert len(mid.requests) == 1  # only the plain request reached the remote tier
    failed = next(r for r in rows if r.status == 400)
    assert [a.tier for a in failed.attempts] == ["local"]


def test_a_conversation_that_escalated_continues_on_the_tier_that_answered(gateway: GatewayFactory,
                                                                         mid: FakeOpenAI) -> None:
    first: Any = [{"role": "user", "content": [{"type": "text", "text": "describe it"},
                                              {"type": "image_url", "image_url": {"url": IMAGE}}]}]
    follow: Any = [{"role": "user", "content": "hello again"}]
    with gateway(three_tiers(mid.base_url)) as (url, _), client(url) as c:
        one = c.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=first,
                                                         metadata={"conversation_id": "c-1"})
        two = c.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=follow,
                                                         metadata={"conversation_id": "c-1"})
        other = c.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=follow,
                                                           metadata={"conversation_id": "c-2"})
        header = c.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=follow,
                                                            extra_headers={"x-smallfirst-conversation": "c-1"})
    assert (tier_of(one), tier_of(two), tier_of(other), tier_of(header)) == ("mid", "mid", "local", "mid"), \
        other.headers["x-smallfirst-reason"]
    assert "sticky" in two.headers["x-smallfirst-reason"]


def test_stickiness_can_be_turned_off(gateway: GatewayFactory, mid: FakeOpenAI) -> None:
    cfg = {**three_tiers(mid.base_url), "routing": {"sticky": False}}
    first: Any = [{"role": "user", "content": [{"type": "text", "text": "describe it"},
                                              {"type": "image_url", "image_url": {"url": IMAGE}}]}]
    with gateway(cfg) as (url, app), client(url) as c:
        c.chat.completions.create(model="smallfirst/auto", messages=first, metadata={"conversation_id": "c-1"})
        raw = c.chat.completions.with_raw_response.create(
            model="smallfirst/auto", messages=[{"role": "user", "content": "again"}],
            metadata={"conversation_id": "c-1"})
        assert isinstance(app, Gateway)
    assert tier_of(raw) == "local"
