"""One HTTP/1.1 connection served to an ASGI app: the lean server's protocol (``[server] http = "lean"``).

asyncio.Protocol + the httptools parser (the C parser uvicorn uses), with only what a JSON/SSE API needs:
keep-alive (HTTP/1.0 only when asked), pipelined requests answered in order, request bodies handed to the
app as they arrive (reading pauses above :data:`HIGH_WATER` unread bytes), ``Expect: 100-continue``,
``Content-Length`` or chunked responses (a response whose length is known goes out in one write), write
back-pressure, ``http.disconnect`` when the client goes away or the response is complete, 400 for a
malformed request, 500 for an app that fails before answering, and an idle keep-alive timeout.
No websockets, no HTTP/2, no TLS (the gateway sits behind a TLS proxy when it needs one).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, cast

import httptools

log = logging.getLogger("smallfirst.server")
HIGH_WATER = 1 << 16  # unread request-body bytes above which reading pauses
App = Callable[..., Any]
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
_NO_BODY = frozenset({204, 304})


def _status_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b""))


def _plain(status: int, text: bytes) -> bytes:
    return (_status_line(status) + b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n" % len(text) + text)


class ServerState:
    """What every connection of one server shares: the open connections, the running request tasks,
    the cached ``date`` header line and whether the server is shutting down."""

    def __init__(self, keep_alive_s: float) -> None:
        self.connections: set[HttpProtocol] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.date = b""
        self.keep_alive_s = keep_alive_s
        self.closing = False


class Cycle:
    """One request and its response."""

    __slots__ = ("body", "chunked", "conn", "consumed", "continued", "disconnected", "done", "expect", "head",
                 "keep_alive", "length", "more_body", "pending", "scope", "started", "waiter")

    def __init__(self, conn: HttpProtocol, scope: dict[str, Any], keep_alive: bool, expect: bool) -> None:
        self.conn, self.scope, self.keep_alive, self.expect = conn, scope, keep_alive, expect
        self.body: list[bytes] = []
        self.length = 0  # unread body bytes
        self.more_body = True
        self.consumed = False  # the whole body was handed to the app
        self.continued = False
        self.disconnected = False
        self.started = False
        self.done = False
        self.chunked = False
        self.head = scope["method"] == "HEAD"
        self.pending = b""  # the response head when it waits to go out with the body
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def receive(self) -> dict[str, Any]:
        if self.expect and not self.continued and not self.disconnected and not self.started:
            self.continued = True
            self.conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        while not (self.disconnected or self.done):
            if self.body or (not self.more_body and not self.consumed):
                body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
                self.body.clear()
                self.length = 0
                self.consumed = not self.more_body
                self.conn.resume_reading()
                return {"type": "http.request", "body": body, "more_body": self.more_body}
            self.waiter = self.conn.loop.create_future()
            await self.waiter
            self.waiter = None
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if self.disconnected:
            return
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError("the response was already started")
            self.started = True
            self._start(int(message["status"]), message.get("headers") or ())
        elif kind == "http.response.body":
            if not self.started or self.done:
                raise RuntimeError("http.response.body before http.response.start or after the last body")
            self._body(message.get("body", b""), bool(message.get("more_body", False)))
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        await self.conn.drain()

    def _start(self, status: int, headers: Any) -> None:
        lines = [_status_line(status)]
        length = False
        for name, value in headers:
            if b"\n" in name or b"\r" in name or b"\n" in value or b"\r" in value:
                raise RuntimeError("a response header contains a line break")
            low = name.lower()
            if low == b"content-length":
                length = True
            elif low == b"connection" and value.lower() == b"close":
                self.keep_alive = False
            elif low == b"transfer-encoding":
                continue  # the framing is this server's choice
            lines.append(name + b": " + value + b"\r\n")
        lines.append(self.conn.state.date)
        if self.conn.state.closing:  # shutting down: this answer is the connection's last
            self.keep_alive = False
        if not self.keep_alive:
            lines.append(b"connection: close\r\n")
        bodyless = self.head or status in _NO_BODY or status < 200
        if not length and not bodyless:
            self.chunked = True
            lines.append(b"transfer-encoding: chunked\r\n")
        lines.append(b"\r\n")
        head = b"".join(lines)
        if length or bodyless:
            self.pending = head  # goes out with the (first) body: one write for a whole JSON answer
        else:
            self.conn.write(head)  # a stream: the client sees the headers at once

    def _body(self, body: bytes, more: bool) -> None:
        out = self.pending
        self.pending = b""
        if self.head:
            body = b""
        if self.chunked:
            if body:
                out += b"%x\r\n" % len(body) + body + b"\r\n"
            if not more:
                out += b"0\r\n\r\n"
        else:
            out += body
        if out:
            self.conn.write(out)
        if not more:
            self.done = True
            self.wake()


class HttpProtocol(asyncio.Protocol):
    """One client connection."""

    def __init__(self, app: App, state: ServerState, loop: asyncio.AbstractEventLoop) -> None:
        self.app, self.state, self.loop = app, state, loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.cycle: Cycle | None = None  # the request being answered
        self.parsing: Cycle | None = None  # the request whose body is being read
        self.pipeline: deque[Cycle] = deque()
        self.server: tuple[str, int] | None = None
        self.client: tuple[str, int] | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._read_paused = False
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._idle: asyncio.TimerHandle | None = None

    # ---- transport events -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        self.state.connections.add(self)
        self.server = _addr(self.transport.get_extra_info("sockname"))
        self.client = _addr(self.transport.get_extra_info("peername"))
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections.discard(self)
        for c in (self.cycle, self.parsing, *self.pipeline):
            if c is not None:
                c.disconnected = True
                c.wake()
        self.pipeline.clear()
        self._release_drain()
        if self._idle is not None:
            self._idle.cancel()

    def data_received(self, data: bytes) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(400, b"Upgrade (websockets) is not supported by this server\n")
        except httptools.HttpParserError:
            self._refuse(400, b"Invalid HTTP request\n")

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._release_drain()

    # ---- parser callbacks -------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        path, _, query = self._url.partition(b"?")
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": self.parser.get_http_version(), "method": self.parser.get_method().decode("ascii"),
            "scheme": "http", "path": _unquote(path), "raw_path": path, "query_string": query, "root_path": "",
            "headers": self._headers, "server": self.server, "client": self.client,
        }
        expect = any(k == b"expect" and v.lower() == b"100-continue" for k, v in self._headers)
        cycle = Cycle(self, scope, self.parser.should_keep_alive() and not self.state.closing, expect)
        self.parsing = cycle
        if self.cycle is None:
            self._run(cycle)
        else:
            self.pipeline.append(cycle)

    def on_body(self, body: bytes) -> None:
        c = self.parsing
        if c is None:
            return
        c.body.append(body)
        c.length += len(body)
        if c.length > HIGH_WATER and not self._read_paused and self.transport is not None:
            self._read_paused = True
            self.transport.pause_reading()
        c.wake()

    def on_message_complete(self) -> None:
        c = self.parsing
        if c is not None:
            c.more_body = False
            c.wake()
        self.parsing = None

    # ---- serving ----------------------------------------------------------------------------------

    def _run(self, cycle: Cycle) -> None:
        self.cycle = cycle
        task = self.loop.create_task(self._serve(cycle))
        self.state.tasks.add(task)
        task.add_done_callback(self.state.tasks.discard)

    async def _serve(self, cycle: Cycle) -> None:
        try:
            await self.app(cycle.scope, cycle.receive, cycle.send)
        except BaseException as err:
            if not isinstance(err, asyncio.CancelledError):
                log.exception("the app failed on %s %s", cycle.scope["method"], cycle.scope["path"])
            if not cycle.started and not cycle.disconnected:
                self.write(_plain(500, b"Internal Server Error\n"))
            self.close()
            if not isinstance(err, Exception):
                raise
            return
        if not cycle.done:  # the app returned without finishing its response
            if not cycle.started and not cycle.disconnected:
                self.write(_plain(500, b"Internal Server Error\n"))
            self.close()
            return
        self._finished(cycle)

    def _finished(self, cycle: Cycle) -> None:
        self.cycle = None
        if not cycle.keep_alive or self.state.closing:
            self.close()
            return
        if self.pipeline:
            self._run(self.pipeline.popleft())
        else:
            self._arm_idle()

    # ---- helpers ----------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        t = self.transport
        if t is not None and not t.is_closing():
            t.write(data)

    async def drain(self) -> None:
        if self._write_paused and self.transport is not None and not self.transport.is_closing():
            self._drain = self.loop.create_future()
            await self._drain

    def resume_reading(self) -> None:
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def idle(self) -> bool:
        return self.cycle is None and self.parsing is None

    def _release_drain(self) -> None:
        d = self._drain
        if d is not None and not d.done():
            d.set_result(None)
        self._drain = None

    def _arm_idle(self) -> None:
        if self.state.keep_alive_s > 0:
            self._idle = self.loop.call_later(self.state.keep_alive_s, self.close)

    def _refuse(self, status: int, text: bytes) -> None:
        if self.cycle is None or not self.cycle.started:
            self.write(_plain(status, text))
        self.close()


def _addr(info: Any) -> tuple[str, int] | None:
    return (str(info[0]), int(info[1])) if isinstance(info, tuple) and len(info) >= 2 else None


def _unquote(path: bytes) -> str:
    if b"%" not in path:
        return path.decode("latin-1")
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(path).decode("latin-1")
