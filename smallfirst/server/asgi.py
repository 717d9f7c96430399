"""Bare-ASGI plumbing shared by the gateway's handlers: types, JSON responses, bounded body reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from smallfirst.core.errors import PayloadTooLargeError, SmallfirstError
from smallfirst.server.headers import error_headers

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_HEADERS: Headers = [(b"content-type", b"application/json")]
SSE_HEADERS: Headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
                        (b"x-accel-buffering", b"no")]


async def send_json(send: Send, status: int, body: bytes, headers: Headers) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*JSON_HEADERS, (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


async def send_openai_error(send: Send, err: SmallfirstError, request_id: str, extra: Headers | None = None) -> None:
    """An OpenAI-shaped error JSON with ``x-request-id``, ``retry-after`` and ``x-should-retry``."""
    await send_json(send, err.status, orjson.dumps(err.to_openai()), error_headers(err, request_id) + (extra or []))


async def read_body(scope: Scope, receive: Receive, max_body: int) -> bytes:
    """The whole request body; 413 (before reading when ``content-length`` says so) past ``max_body`` bytes."""
    for k, v in scope["headers"]:
        if k == b"content-length" and v.isdigit() and int(v) > max_body:
            raise PayloadTooLargeError(f"request body is {int(v)} bytes; the limit is {max_body}",
                                       hint="raise server.max_body_bytes in smallfirst.toml", param="body")
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            break
        part = msg.get("body", b"")
        size += len(part)
        if size > max_body:
            raise PayloadTooLargeError(f"request body exceeds the limit of {max_body} bytes",
                                       hint="raise server.max_body_bytes in smallfirst.toml", param="body")
        chunks.append(part)
        more = msg.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
