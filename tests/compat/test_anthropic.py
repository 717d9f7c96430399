"""The official ``anthropic`` SDK against the gateway's Messages API (/v1/messages)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
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
    WEATHER_PARAMS,
    Color,
    check_weather_args,
)
from tests.compat.conftest import Target

LIBRARY = "anthropic"
NOT_APPLICABLE = {
    "responses": "the Anthropic API has no Responses API",
    "responses_stream": "the Anthropic API has no Responses API",
    "embeddings": "the Anthropic API has no embeddings endpoint",
}
USER: Any = [{"role": "user", "content": PROMPT}]
TOOL: Any = {"name": "get_weather", "description": "Current weather in a city.", "input_schema": WEATHER_PARAMS}
NAMED: Any = {"type": "tool", "name": "get_weather"}
PNG_B64 = PNG_DATA_URL.split(",", 1)[1]


@pytest.fixture
def ant(target: Target) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=target.url, api_key="unused", max_retries=0) as c:
        yield c


def create(c: anthropic.Anthropic, **kw: Any) -> tuple[Any, str]:
    """One message: (the parsed answer, the tier that answered)."""
    raw = c.messages.with_raw_response.create(**{"model": AUTO, "max_tokens": MAX_TOKENS, **kw})
    return raw.parse(), raw.headers["x-smallfirst-tier"]


def text_of(message: Any) -> str:
    return "".join(b.text for b in message.content if b.type == "text")


def test_plain(target: Target, ant: anthropic.Anthropic) -> None:
    m, tier = create(ant, messages=USER)
    assert text_of(m).strip() and m.stop_reason in ("end_turn", "max_tokens")
    assert 0 < m.usage.output_tokens <= MAX_TOKENS and tier == "local"


def test_stream(target: Target, ant: anthropic.Anthropic) -> None:
    with ant.messages.stream(model=AUTO, max_tokens=MAX_TOKENS, messages=USER) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        tier = stream.response.headers["x-smallfirst-tier"]
    assert text.strip() and text == text_of(final) and final.usage.output_tokens > 0 and tier == "local"


def test_text_parts(target: Target, ant: anthropic.Anthropic) -> None:
    m, tier = create(ant, messages=[{"role": "user", "content": [
        {"type": "text", "text": "Say hello"}, {"type": "text", "text": "in one short sentence."}]}])
    assert text_of(m).strip() and tier == "local"


def test_image(target: Target, ant: anthropic.Anthropic) -> None:
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}]}]
    if not target.has_upper:  # nobody here can see images: a clear 400 that says so
        with pytest.raises(anthropic.BadRequestError) as err:
            create(ant, messages=messages)
        assert "image" in err.value.message
        return
    m, tier = create(ant, messages=messages)
    assert tier == "upper" and text_of(m).strip()
    sent = target.upper_calls()[-1].body["messages"][-1]["content"]
    assert any(p.get("type") == "image_url" and p["image_url"]["url"] == PNG_DATA_URL for p in sent)


def test_tools_auto(target: Target, ant: anthropic.Anthropic) -> None:
    m, tier = create(ant, messages=[{"role": "user", "content": TOOL_PROMPT}], tools=[TOOL],
                     tool_choice={"type": "auto"})
    uses = [b for b in m.content if b.type == "tool_use"]
    if not target.has_upper:  # NO_AUTO_TOOLS: the only tier answers in prose, which auto allows
        assert tier == "local" and not uses and text_of(m).strip(), NO_AUTO_TOOLS
        return
    assert tier == "upper" and m.stop_reason == "tool_use"
    (use,) = uses
    assert use.name == "get_weather" and use.id
    check_weather_args(use.input)


def test_tools_named(target: Target, ant: anthropic.Anthropic) -> None:
    m, _ = create(ant, messages=[{"role": "user", "content": TOOL_PROMPT}], tools=[TOOL], tool_choice=NAMED)
    (use,) = [b for b in m.content if b.type == "tool_use"]
    assert use.name == "get_weather" and m.stop_reason == "tool_use"
    check_weather_args(use.input)


def test_tools_stream(target: Target, ant: anthropic.Anthropic) -> None:
    choice: Any = {"type": "auto"} if target.has_upper else NAMED  # NO_AUTO_TOOLS: locally only a named call
    with ant.messages.stream(model=AUTO, max_tokens=MAX_TOKENS, tools=[TOOL],
                                        tool_choice=choice,
                                        messages=[{"role": "user", "content": TOOL_PROMPT}]) as stream:
        deltas = [e.delta.partial_json for e in stream if e.type == "content_block_delta"
                  and e.delta.type == "input_json_delta"]
        final = stream.get_final_message()
        tier = stream.response.headers["x-smallfirst-tier"]
    (use,) = [b for b in final.content if b.type == "tool_use"]
    assert use.name == "get_weather" and deltas
    assert check_weather_args("".join(deltas)) == use.input
    assert tier == ("upper" if target.has_upper else "local")


def test_tools_followup(target: Target, ant: anthropic.Anthropic) -> None:
    messages = [
        {"role": "user", "content": TOOL_PROMPT},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": TOOL_RESULT}]},
    ]
    m, tier = create(ant, messages=messages, tools=[TOOL])
    assert text_of(m).strip() and not [b for b in m.content if b.type == "tool_use"]
    if target.has_upper:
        assert tier == "upper"
        sent = target.upper_calls()[-1].body["messages"]
        assert sent[-1] == {"role": "tool", "tool_call_id": "toolu_1", "content": TOOL_RESULT}


def test_json_schema(target: Target, ant: anthropic.Anthropic) -> None:
    m = ant.messages.parse(model=AUTO, max_tokens=MAX_TOKENS, output_format=Color,
                                      messages=[{"role": "user", "content": COLOR_PROMPT}])
    assert isinstance(m.parsed_output, Color)


def test_alias(target: Target, ant: anthropic.Anthropic) -> None:
    m, tier = create(ant, model="claude-sonnet-4-5", messages=USER)  # an app written for Claude, unchanged
    assert text_of(m).strip() and tier == "local"


def test_count_tokens(target: Target, ant: anthropic.Anthropic) -> None:
    counted = ant.messages.count_tokens(model=AUTO, messages=USER)
    m, _ = create(ant, messages=USER)
    assert counted.input_tokens == m.usage.input_tokens > 0  # the same count the answer is billed with
