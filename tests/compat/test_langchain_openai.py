"""``langchain-openai`` (ChatOpenAI, OpenAIEmbeddings) against the gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

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
    answered_by,
    check_weather_args,
)
from tests.compat.conftest import Target

LIBRARY = "langchain-openai"
NOT_APPLICABLE = {"count_tokens": "ChatOpenAI counts tokens client-side (tiktoken); it calls no endpoint"}
Chat = Callable[..., ChatOpenAI]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


@pytest.fixture
def chat(target: Target, http: httpx.Client) -> Chat:
    """``chat(**kw)``: a ChatOpenAI on the gateway (short answers, headers in response_metadata)."""

    def make(**kw: Any) -> ChatOpenAI:
        args: dict[str, Any] = {"model": AUTO, "base_url": target.v1, "api_key": "unused", "max_retries": 0,
                                "max_tokens": MAX_TOKENS, "temperature": 0, "http_client": http,
                                "include_response_headers": True}
        return ChatOpenAI(**{**args, **kw})

    return make


def tier_of(message: BaseMessage) -> str:
    return str(message.response_metadata["headers"]["x-smallfirst-tier"])


def joined(chunks: list[Any]) -> AIMessageChunk:
    out: AIMessageChunk = chunks[0]
    for c in chunks[1:]:
        out = out + c
    return out


def test_plain(target: Target, chat: Chat) -> None:
    m = chat().invoke(PROMPT)
    assert m.text.strip() and tier_of(m) == "local"


def test_stream(target: Target, chat: Chat) -> None:
    before = len(target.upper_calls())
    chunks = list(chat(stream_usage=True).stream(PROMPT))
    full = joined(chunks)
    assert full.text.strip() and full.usage_metadata is not None and full.usage_metadata["output_tokens"] > 0
    assert answered_by(target, before) == "local"


def test_text_parts(target: Target, chat: Chat) -> None:
    m = chat().invoke([HumanMessage(content=[{"type": "text", "text": "Say hello"},
                                             {"type": "text", "text": "in one short sentence."}])])
    assert m.text.strip() and tier_of(m) == "local"


def test_image(target: Target, chat: Chat) -> None:
    msg = HumanMessage(content=[{"type": "text", "text": "What is in this picture?"},
                                {"type": "image_url", "image_url": {"url": PNG_DATA_URL}}])
    if not target.has_upper:  # nobody here can see images: a clear 400 that says so
        with pytest.raises(openai.BadRequestError) as err:
            chat().invoke([msg])
        assert "image" in str(err.value.message)
        return
    m = chat().invoke([msg])
    assert m.text.strip() and tier_of(m) == "upper"


def test_tools_auto(target: Target, chat: Chat) -> None:
    m = chat().bind_tools([WEATHER_TOOL], tool_choice="auto").invoke(TOOL_PROMPT)
    assert isinstance(m, AIMessage)
    if not target.has_upper:  # NO_AUTO_TOOLS: the only tier answers in prose, which auto allows
        assert tier_of(m) == "local" and not m.tool_calls and m.text.strip(), NO_AUTO_TOOLS
        return
    (call,) = m.tool_calls
    assert call["name"] == "get_weather" and tier_of(m) == "upper"
    check_weather_args(call["args"])


def test_tools_named(target: Target, chat: Chat) -> None:
    m = chat().bind_tools([WEATHER_TOOL], tool_choice="get_weather").invoke(TOOL_PROMPT)
    assert isinstance(m, AIMessage)
    (call,) = m.tool_calls
    assert call["name"] == "get_weather" and call["id"]
    check_weather_args(call["args"])


def test_tools_stream(target: Target, chat: Chat) -> None:
    before = len(target.upper_calls())
    choice = "auto" if target.has_upper else "get_weather"  # NO_AUTO_TOOLS: locally only a named call
    full = joined(list(chat().bind_tools([WEATHER_TOOL], tool_choice=choice).stream(TOOL_PROMPT)))
    (call,) = full.tool_calls
    assert call["name"] == "get_weather"
    check_weather_args(call["args"])
    assert answered_by(target, before) == ("upper" if target.has_upper else "local")


def test_tools_followup(target: Target, chat: Chat) -> None:
    history = [HumanMessage(TOOL_PROMPT),
               AIMessage(content="", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_7"}]),
               ToolMessage(content=TOOL_RESULT, tool_call_id="call_7")]
    m = chat().bind_tools([WEATHER_TOOL]).invoke(history)
    assert isinstance(m, AIMessage) and m.text.strip() and not m.tool_calls
    if target.has_upper:
        assert tier_of(m) == "upper"
        assert target.upper_calls()[-1].body["messages"][-1]["tool_call_id"] == "call_7"


def test_json_schema(target: Target, chat: Chat) -> None:
    out = chat().with_structured_output(Color).invoke(COLOR_PROMPT)  # method="json_schema", the default
    assert isinstance(out, Color)


def test_responses(target: Target, chat: Chat) -> None:
    m = chat(use_responses_api=True).invoke(PROMPT)
    assert m.text.strip() and tier_of(m) == "local"


def test_responses_stream(target: Target, chat: Chat) -> None:
    before = len(target.upper_calls())
    full = joined(list(chat(use_responses_api=True).stream(PROMPT)))
    assert full.text.strip() and answered_by(target, before) == "local"


def test_embeddings(target: Target, http: httpx.Client) -> None:
    emb = OpenAIEmbeddings(model="text-embedding-3-small", base_url=target.v1, api_key="unused",  # type: ignore[arg-type]
                           http_client=http, max_retries=0,
                           check_embedding_ctx_length=False)  # True would fetch tiktoken's encoding from the web
    a, b = emb.embed_documents(["a red apple", "a blue car"])
    q = emb.embed_query("a red apple")
    assert len(a) == len(b) == len(q) > 0 and a != b
    assert sum(x * y for x, y in zip(a, q, strict=True)) > 0.99  # the same text, the same vector


def test_alias(target: Target, chat: Chat) -> None:
    m = chat(model="gpt-4o").invoke(PROMPT)  # an app written for OpenAI, pointed at the gateway
    assert m.text.strip() and tier_of(m) == "local"
