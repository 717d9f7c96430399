"""The official ``openai`` SDK against the gateway: chat completions, Responses API, embeddings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.compat.common import (
    AUTO,
    COLOR_PROMPT,
    MAX_TOKENS,
    NO_AUTO_TOOLS,
    PNG_DATA_URL,
    PROMPT,
    TOOL_PROMPT,
    TOOL_RESULT,
    WEATHER_TOOL,
    Color,
    check_weather_args,
    on,
    tool_turns,
)
from tests.compat.conftest import Target

LIBRARY = "openai"
NOT_APPLICABLE: dict[str, str] = {}
NOT_TESTED = {"count_tokens": "the gateway serves Anthropic's count_tokens only, not OpenAI's "
                              "/v1/responses/input_tokens (not asked for by issue 14)"}
USER: Any = [{"role": "user", "content": PROMPT}]
NAMED: Any = {"type": "function", "function": {"name": "get_weather"}}


@pytest.fixture
def oai(target: Target) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=target.v1, api_key="unused", max_retries=0) as c:
        yield c


def chat(c: openai.OpenAI, **kw: Any) -> tuple[Any, str]:
    """One chat completion: (the parsed answer, the tier that answered)."""
    raw = c.chat.completions.with_raw_response.create(**{"model": AUTO, "max_tokens": MAX_TOKENS, "temperature": 0,
                                                         **kw})
    return raw.parse(), raw.headers["x-smallfirst-tier"]


def test_plain(target: Target, oai: openai.OpenAI) -> None:
    r, tier = chat(oai, messages=USER)
    assert (r.choices[0].message.content or "").strip()
    assert r.usage is not None and 0 < r.usage.completion_tokens <= MAX_TOKENS
    assert tier == "local"  # a short chat is answered locally first


def test_stream(target: Target, oai: openai.OpenAI) -> None:
    raw = oai.chat.completions.with_raw_response.create(
        model=AUTO, messages=USER, max_tokens=MAX_TOKENS, stream=True, stream_options={"include_usage": True})
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert raw.headers["x-smallfirst-tier"] == "local"


def test_text_parts(target: Target, oai: openai.OpenAI) -> None:
    r, tier = chat(oai, messages=[{"role": "user", "content": [
        {"type": "text", "text": "Say hello"}, {"type": "text", "text": "in one short sentence."}]}])
    assert (r.choices[0].message.content or "").strip()
    assert tier == "local"


def test_image(target: Target, oai: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is in this picture?"},
                                             {"type": "image_url", "image_url": {"url": PNG_DATA_URL}}]}]
    if not target.has_upper:  # nobody here can see images: a clear 400 that says so
        with pytest.raises(openai.BadRequestError) as err:
            chat(oai, messages=messages)
        assert "image" in str(err.value.message)
        return
    r, tier = chat(oai, messages=messages)
    assert tier == "upper" and (r.choices[0].message.content or "").strip()
    sent = target.upper_calls()[-1].body["messages"][-1]["content"]
    assert {"type": "image_url", "image_url": {"url": PNG_DATA_URL}} in sent


def test_tools_auto(target: Target, oai: openai.OpenAI) -> None:
    r, tier = chat(oai, messages=[{"role": "user", "content": TOOL_PROMPT}], tools=[WEATHER_TOOL],
                   tool_choice="auto")
    msg = r.choices[0].message
    if not target.has_upper:  # NO_AUTO_TOOLS: the only tier answers in prose, which auto allows
        assert tier == "local" and not msg.tool_calls and (msg.content or "").strip(), NO_AUTO_TOOLS
        return
    assert tier == "upper" and r.choices[0].finish_reason == "tool_calls"
    (call,) = msg.tool_calls or []
    assert call.function.name == "get_weather"
    check_weather_args(call.function.arguments)


def test_tools_named(target: Target, oai: openai.OpenAI) -> None:
    r, _ = chat(oai, messages=[{"role": "user", "content": TOOL_PROMPT}], tools=[WEATHER_TOOL],
                tool_choice=NAMED)
    (call,) = r.choices[0].message.tool_calls or []  # the embedded tier's call is grammar-constrained
    assert call.function.name == "get_weather" and call.id
    check_weather_args(call.function.arguments)


def test_tools_stream(target: Target, oai: openai.OpenAI) -> None:
    choice: Any = "auto" if target.has_upper else NAMED  # NO_AUTO_TOOLS: locally only a named call
    raw = oai.chat.completions.with_raw_response.create(
        model=AUTO, messages=[{"role": "user", "content": TOOL_PROMPT}], tools=[WEATHER_TOOL], tool_choice=choice,
        max_tokens=MAX_TOKENS, stream=True)
    name, args = "", ""
    stream: Any = raw.parse()
    for chunk in stream:
        for d in (c.delta for c in chunk.choices):
            for tc in d.tool_calls or []:
                assert tc.index == 0
                name += (tc.function.name or "") if tc.function else ""
                args += (tc.function.arguments or "") if tc.function else ""
    assert name == "get_weather"
    check_weather_args(args)
    assert raw.headers["x-smallfirst-tier"] == ("upper" if target.has_upper else "local")


def test_tools_followup(target: Target, oai: openai.OpenAI) -> None:
    r, tier = chat(oai, messages=tool_turns("call_0", '{"city": "Paris"}'), tools=[WEATHER_TOOL])
    msg = r.choices[0].message
    assert (msg.content or "").strip() and not msg.tool_calls
    if target.has_upper:
        assert tier == "upper"
        sent = target.upper_calls()[-1].body["messages"]
        assert sent[-1] == {"role": "tool", "tool_call_id": "call_0", "content": TOOL_RESULT}
        assert sent[-2]["tool_calls"][0]["id"] == "call_0"


def test_json_schema(target: Target, oai: openai.OpenAI) -> None:
    r = oai.chat.completions.parse(model=AUTO, messages=[{"role": "user", "content": COLOR_PROMPT}],
                                              response_format=Color, max_tokens=MAX_TOKENS)
    parsed = r.choices[0].message.parsed
    assert isinstance(parsed, Color)


def test_responses(target: Target, oai: openai.OpenAI) -> None:
    r = oai.responses.create(model=AUTO, input=PROMPT, max_output_tokens=MAX_TOKENS)
    assert r.status in ("completed", "incomplete") and r.output_text.strip()
    assert r.usage is not None and r.usage.output_tokens > 0


def test_responses_stream(target: Target, oai: openai.OpenAI) -> None:
    events = list(oai.responses.create(model=AUTO, input=PROMPT, max_output_tokens=MAX_TOKENS,
                                                  stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] in ("response.completed", "response.incomplete")
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text.strip()


@on()
def test_embeddings(target: Target, oai: openai.OpenAI) -> None:
    raw = oai.embeddings.with_raw_response.create(model="text-embedding-3-small", input=["a red apple", "a blue car"])
    a, b = (d.embedding for d in sorted(raw.parse().data, key=lambda d: d.index))
    assert len(a) == len(b) > 0 and a != b
    assert raw.headers["x-smallfirst-tier"] == "local"  # a local embedding model by default, as chat is local first


def test_alias(target: Target, oai: openai.OpenAI) -> None:
    r, tier = chat(oai, model="gpt-4o", messages=USER)  # an app written for OpenAI, pointed at the gateway
    assert (r.choices[0].message.content or "").strip() and tier == "local"
