"""``POST /v1/responses`` driven by the official ``openai`` SDK against a real gateway on 127.0.0.1: the fake
backend, a protocol-faithful fake OpenAI upper tier (tool calls, JSON schema) and the real embedded SmolLM2."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pydantic
import pytest
from openai.types.responses import FunctionToolParam, Response

from smallfirst.wire.responses_store import ResponseStore
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.gateway.conftest import GatewayFactory, log_rows

ECHO: dict[str, Any] = {"log": {"store_prompts": True},
                        "tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]}]}
WEATHER: FunctionToolParam = {
    "type": "function", "name": "get_weather", "description": "Current weather for a city.", "strict": True,
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                   "additionalProperties": False}}

ClientFactory = Callable[[str], openai.OpenAI]


@pytest.fixture
def client() -> Iterator[ClientFactory]:
    made: list[openai.OpenAI] = []

    def make(url: str) -> openai.OpenAI:
        made.append(openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0))
        return made[-1]

    yield make
    for c in made:
        c.close()


@pytest.fixture
def upper() -> Iterator[tuple[FakeOpenAI, dict[str, Any]]]:
    """A fake OpenAI upstream as the 'frontier' tier above a fake local tier (request smallfirst/frontier)."""
    with FakeOpenAI(model="up-model").in_thread() as srv:
        yield srv, {"log": {"store_prompts": True}, "tiers": [
            {"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
            {"name": "frontier", "endpoints": [{"backend": "openai_compat", "model": "up-model",
                                                "base_url": srv.base_url, "location": "local"}]}]}


def test_create_with_instructions_usage_and_log_row(gateway: GatewayFactory, client: ClientFactory) -> None:
    with gateway(ECHO) as (url, app):
        raw = client(url).responses.with_raw_response.create(model="smallfirst/auto", input="hello there",
                                                             instructions="Be brief.", metadata={"app": "t"})
        r = raw.parse()
        rows = log_rows(app)
    assert raw.headers["x-smallfirst-tier"] == "local" and raw.headers["x-smallfirst-model"] == "echo"
    assert r.id.startswith("resp_") and r.object == "response" and r.status == "completed" and r.model == "echo"
    assert r.output_text == "echo: hello there" and r.error is None and r.incomplete_details is None
    (msg,) = r.output
    assert msg.type == "message" and msg.role == "assistant" and msg.status == "completed"
    assert msg.id.startswith("msg_") and msg.content[0].type == "output_text" and msg.content[0].annotations == []
    assert r.usage is not None and (r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens) == (6, 3, 9)
    assert r.usage.input_tokens_details.cached_tokens == 0 and r.usage.output_tokens_details.reasoning_tokens == 0
    assert r.instructions == "Be brief." and r.metadata == {"app": "t"} and r.tools == []
    assert r.model_extra is not None and r.model_extra["store"] is False  # nothing kept: says so
    (row,) = rows
    assert row.request_id == raw.headers["x-request-id"] and row.status == 200 and not row.stream
    assert row.requested_model == "smallfirst/auto" and (row.prompt_tokens, row.completion_tokens) == (6, 3)
    assert row.prompt_text == "Be brief.\nhello there" and row.response_text == "echo: hello there"


def test_stream_events_and_the_stream_helper(gateway: GatewayFactory, client: ClientFactory) -> None:
    with gateway(ECHO) as (url, app):
        c = client(url)
        events = list(c.responses.create(model="smallfirst/auto", input="stream me please", stream=True))
        with c.responses.stream(model="smallfirst/auto", input=[{"role": "user", "content": "and again"}]) as s:
            deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
            final = s.get_final_response()

        async def go() -> Response:
            async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0) as ac:
                return await ac.responses.create(model="smallfirst/local", input="async hello")

        via_async = asyncio.run(go())
        rows = log_rows(app)
    kinds = [e.type for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    assert set(kinds[4:-4]) == {"response.output_text.delta"} and len(kinds) > 9
    assert [e.sequence_number for e in events] == list(range(len(events)))
    done = events[-1]
    assert done.type == "response.completed" and done.response.output_text == "echo: stream me please"
    assert done.response.usage is not None and done.response.usage.output_tokens == 4
    assert "".join(deltas) == final.output_text == "echo: and again" and final.status == "completed"
    assert via_async.output_text == "echo: async hello"
    assert [r.stream for r in rows] == [True, True, False] and all(r.status == 200 for r in rows)
    assert rows[0].response_text == "echo: stream me please"


@pytest.mark.parametrize("stream", [False, True])
def test_function_call_round_trip_on_the_upper_tier(gateway: GatewayFactory, client: ClientFactory,
                                                    upper: tuple[FakeOpenAI, dict[str, Any]], stream: bool) -> None:
    srv, cfg = upper
    ask: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    first: Response
    with gateway(cfg) as (url, _):
        c = client(url)
        if stream:
            with c.responses.stream(model="smallfirst/frontier", input=ask, tools=[WEATHER]) as s:
                kinds = [e.type for e in s]
                first = s.get_final_response()
            assert "response.function_call_arguments.delta" in kinds
            assert kinds[-3:] == ["response.function_call_arguments.done", "response.output_item.done",
                                  "response.completed"]
        else:
            raw = c.responses.with_raw_response.create(model="smallfirst/frontier", input=ask, tools=[WEATHER])
            assert raw.headers["x-smallfirst-tier"] == "frontier"
            first = raw.parse()
        (call,) = first.output
        assert call.type == "function_call" and call.name == "get_weather" and call.call_id == "call_0"
        assert call.arguments == '{"city": "x"}' and call.status == "completed" and call.id
        assert first.status == "completed" and first.output_text == ""
        assert first.tools[0].type == "function" and first.tools[0].name == "get_weather"
        follow: list[Any] = [*ask, *first.output, {"type": "function_call_output", "call_id": call.call_id,
                                                   "output": "18 C"}]  # the SDK's own output objects sent back
        second = c.responses.create(model="smallfirst/frontier", tools=[WEATHER], tool_choice="none", input=follow)
    assert second.output_text == "echo: weather in Paris?"
    sent = srv.requests[-1].body
    assert sent["messages"] == [
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_0", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city": "x"}'}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": "18 C"}]
    assert sent["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": WEATHER["description"], "parameters": WEATHER["parameters"],
        "strict": True}}]
    assert sent["tool_choice"] == "none"


class Weather(pydantic.BaseModel):
    city: str
    celsius: int


def test_json_schema_and_parse(gateway: GatewayFactory, client: ClientFactory,
                               upper: tuple[FakeOpenAI, dict[str, Any]]) -> None:
    srv, cfg = upper
    with gateway(cfg) as (url, _):
        c = client(url)
        parsed = c.responses.parse(model="smallfirst/frontier", input="weather in Oslo as JSON", text_format=Weather)
        raw = c.responses.create(model="smallfirst/frontier", input="json please", max_output_tokens=50, text={
            "format": {"type": "json_schema", "name": "w", "schema": Weather.model_json_schema(), "strict": False}})
    assert parsed.output_parsed == Weather(city="x", celsius=1)
    assert Weather.model_validate_json(raw.output_text) == Weather(city="x", celsius=1)
    assert raw.text is not None and raw.text.format is not None and raw.text.format.type == "json_schema"
    first, second = (r.body for r in srv.requests[-2:])
    assert first["response_format"]["type"] == "json_schema"
    assert first["response_format"]["json_schema"]["name"] == "Weather"
    assert first["response_format"]["json_schema"]["strict"] is True
    assert second["response_format"]["json_schema"]["name"] == "w" and second["max_tokens"] == 50


def test_previous_response_id_continues_a_kept_conversation(gateway: GatewayFactory, client: ClientFactory,
                                                            upper: tuple[FakeOpenAI, dict[str, Any]],
                                                            tmp_path: Path) -> None:
    srv, cfg = upper
    with gateway({**cfg, "responses": {"store": True, "ttl_s": 600}}) as (url, _):
        c = client(url)
        one = c.responses.create(model="smallfirst/frontier", input="my name is Ada", instructions="Be brief.")
        assert one.model_extra is not None and one.model_extra["store"] is True
        with c.responses.stream(model="smallfirst/frontier", input="what is my name?",
                                previous_response_id=one.id) as s:
            two = s.get_final_response()
        three = c.responses.create(model="smallfirst/frontier", input="thanks", previous_response_id=two.id,
                                   store=False)
        with pytest.raises(openai.BadRequestError) as err:
            c.responses.create(model="smallfirst/frontier", input="more", previous_response_id=three.id)
    assert two.previous_response_id == one.id and err.value.param == "previous_response_id"
    assert srv.requests[-1].body["messages"] == [
        {"role": "user", "content": "my name is Ada"}, {"role": "assistant", "content": "echo: my name is Ada"},
        {"role": "user", "content": "what is my name?"}, {"role": "assistant", "content": "echo: what is my name?"},
        {"role": "user", "content": "thanks"}]  # the instructions of turn one are not carried over
    kept = ResponseStore(str(tmp_path / "log.db"), ttl_s=600)  # beside the request log, in its file
    assert kept.count() == 2 and kept.get(three.id, None) is None
    kept.close()


def test_refusals_are_400s_with_param(gateway: GatewayFactory, client: ClientFactory) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("tools[0].type", {"input": "x", "tools": [{"type": "web_search"}]}),
        ("previous_response_id", {"input": "x", "previous_response_id": "resp_123"}),
        ("store", {"input": "x", "store": True}),
        ("input[0].type", {"input": [{"type": "computer_call_output", "call_id": "c", "output": {}}]}),
        ("input[0].content[0].file_id", {"input": [{"role": "user", "content": [
            {"type": "input_image", "file_id": "file_1", "detail": "auto"}]}]}),
    ]
    with gateway(ECHO) as (url, app):
        c = client(url)
        for param, body in cases:
            with pytest.raises(openai.BadRequestError) as err:
                c.responses.create(model="smallfirst/auto", **body)
            assert err.value.status_code == 400 and err.value.param == param, err.value.message
            assert err.value.type == "invalid_request_error" and "hint:" in err.value.message
        unknown = httpx.post(url + "/v1/responses", json={"model": "smallfirst/auto", "input": "x", "seed": 1})
        rows = log_rows(app)
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "seed"
    assert [r.status for r in rows] == [400] * (len(cases) + 1)


@pytest.mark.parametrize("stream", [False, True])
def test_cut_answer_is_incomplete(gateway: GatewayFactory, client: ClientFactory, stream: bool) -> None:
    with gateway(ECHO) as (url, _):
        c = client(url)
        if stream:
            with c.responses.stream(model="smallfirst/auto", input="one two three", max_output_tokens=2) as s:
                last = list(s)[-1]
            assert last.type == "response.incomplete"
            r = last.response
        else:
            r = c.responses.create(model="smallfirst/auto", input="one two three", max_output_tokens=2)
    assert r.status == "incomplete" and r.incomplete_details is not None
    assert r.incomplete_details.reason == "max_output_tokens" and r.output_text.strip() == "echo: one"


def test_upstream_failure_mid_stream_ends_with_response_failed(gateway: GatewayFactory,
                                                                client: ClientFactory) -> None:
    cfg = {"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo?fail=stream_cut"}]}]}
    with gateway(cfg) as (url, app):
        events = list(client(url).responses.create(model="smallfirst/auto", input="hello there", stream=True))
        (row,) = log_rows(app)
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-2:] == ["error", "response.failed"]
    failed = events[-1]
    assert failed.type == "response.failed" and failed.response.status == "failed"
    assert failed.response.error is not None and failed.response.error.code == "server_error"
    assert row.status == 502 and row.error_code == "upstream_stream_interrupted"


@pytest.mark.slow
def test_real_embedded_smollm2(gateway: GatewayFactory, client: ClientFactory) -> None:
    with gateway({}) as (url, app):  # the default config: one local tier on the embedded SmolLM2
        c = client(url)
        r = c.responses.create(model="smallfirst/auto", input="Name three primary colors.", max_output_tokens=24,
                               temperature=0)
        with c.responses.stream(model="smallfirst/auto", instructions="Answer briefly.",
                                input=[{"role": "user", "content": [{"type": "input_text", "text": "Say hi."}]}],
                                max_output_tokens=12) as s:
            events = list(s)
        deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
        last = events[-1]  # completed, or incomplete when the answer ran past 12 tokens
        assert last.type in ("response.completed", "response.incomplete")
        streamed = last.response
        parsed = c.responses.parse(model="smallfirst/auto", input="A city and its temperature in C, as JSON.",
                                   text_format=Weather, max_output_tokens=48, temperature=0)
        rows = log_rows(app)
    assert len(r.output_text.split()) >= 3 and r.model == "smollm2-135m"  # a real completion, not an echo
    assert r.usage is not None and r.usage.input_tokens > 5 and 0 < r.usage.output_tokens <= 24
    assert len(deltas) > 1 and "".join(deltas) == streamed.output_text and streamed.output_text.strip()
    assert isinstance(parsed.output_parsed, Weather)  # grammar-constrained JSON from the small model
    assert [row.tier for row in rows] == ["local"] * 3 and all(row.status == 200 for row in rows)
