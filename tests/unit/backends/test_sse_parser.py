"""The SSE ``data:`` assembler used by the OpenAI-compatible and Anthropic backends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from smallfirst.backends.sse import SseDecoder, sse_events


def parse(lines: list[bytes]) -> list[bytes]:
    """The events of a body made of ``lines``, arriving one line per network read."""
    async def source() -> AsyncIterator[bytes]:
        for i, line in enumerate(lines):
            yield line if i == len(lines) - 1 else line + b"\n"

    async def go() -> list[bytes]:
        return [d async for d in sse_events(source())]

    return asyncio.run(go())


def test_events_comments_and_fields() -> None:
    lines = [b": keep-alive", b"", b"event: message_start", b'data: {"a":1}', b"", b"id: 7", b"retry: 10",
             b"data:{\"b\":2}", b"", b"data: [DONE]", b""]
    assert parse(lines) == [b'{"a":1}', b'{"b":2}', b"[DONE]"]


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert parse([b"data: first", b"data: second", b""]) == [b"first\nsecond"]


def test_last_event_without_trailing_blank_line_is_kept() -> None:
    assert parse([b"data: x", b"", b"data: tail"]) == [b"x", b"tail"]


def test_only_one_leading_space_is_stripped() -> None:
    assert parse([b"data:  two spaces", b""]) == [b" two spaces"]


def test_the_incremental_decoder_agrees_with_the_line_parser_at_any_split() -> None:
    body = (b": ping\r\n\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\ndata: first\ndata: second\n\n"
            b"id: 7\ndata:{\"b\":2}\n\ndata: [DONE]\n\ndata: tail")
    want = parse(body.replace(b"\r\n", b"\n").split(b"\n"))
    assert want == [b'{"a":1}', b"first\nsecond", b'{"b":2}', b"[DONE]", b"tail"]
    for i in range(len(body) + 1):
        for j in range(i, len(body) + 1, 7):
            d = SseDecoder()
            got = d.feed(body[:i]) + d.feed(body[i:j]) + d.feed(body[j:]) + d.end()
            assert got == want, (i, j)
