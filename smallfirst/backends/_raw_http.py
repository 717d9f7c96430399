"""A lean HTTP/1.1 client for plain-``http://`` upstreams: the local servers (Ollama, llama.cpp, vLLM,
LM Studio) the gateway talks to on almost every request.

Why not aiohttp here: under load the gateway spent about a quarter of its CPU inside
``aiohttp.ClientSession`` (request objects, header multidicts, timers, tracing hooks), more than all of its
own routing. This client writes one pre-built request head, parses the answer with ``httptools`` (the
llhttp parser uvicorn uses) and keeps connections alive in a per-loop pool. ``https://`` and anything
unusual (credentials in the URL, a query string) still go through aiohttp; see :class:`HttpClient`.

Scope: keep-alive pool bounded by ``pool`` connections; bodies delimited by Content-Length, chunked
transfer-encoding or the server closing the connection; per-request deadlines and per-read timeouts;
back-pressure on streamed bodies. No redirects, no compression (``Accept-Encoding`` is not sent), no proxies
(aiohttp was used without ``trust_env`` too). An idle connection is reused for at most ``keepalive_s``
seconds, under the 5 s idle timeout of llama.cpp's server and uvicorn, so a request is not written to a
socket the server is closing.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import cast
from urllib.parse import SplitResult, quote

import httptools
from multidict import CIMultiDict

from smallfirst import __version__

HIGH_WATER = 256 * 1024  # buffered body bytes at which reading from the socket pauses
KEEPALIVE_S = 4.0


class RawHttpError(Exception):
    """Base of this client's own transport errors (OS errors and timeouts are raised as they are)."""


class ServerDisconnected(RawHttpError, ConnectionError):
    """The server closed the connection before the response headers arrived."""


class PayloadCut(RawHttpError):
    """The server closed the connection in the middle of the response body."""


class BadResponse(RawHttpError):
    """The bytes on the wire are not a valid HTTP/1.1 response."""


def usable(url: SplitResult) -> bool:
    """Whether a base URL is one this client serves (plain http, no credentials, query or fragment)."""
    return (url.scheme == "http" and bool(url.hostname) and url.username is None and not url.query
            and not url.fragment)


def _timeout(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


class Conn(asyncio.Protocol):
    """One keep-alive connection and the response currently being read from it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: deque[bytes] = deque()
        self.begin()

    def begin(self) -> None:
        """Reset the per-response state before a request is written."""
        self.status = 0
        self.headers = []  # a new list: a caller may still hold the previous response's
        self.chunks.clear()
        self.buffered = 0
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.delimited = False  # Content-Length or chunked: the body does not end at connection close
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False

    # ---- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's TCPTransport is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(BadResponse(f"invalid HTTP response ({exc})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete and self.error is None:
            if self.headers_done and not self.delimited:
                self.complete = True  # a body delimited by the connection closing has ended
            elif self.headers_done:
                self._fail(PayloadCut("the connection was closed before the response ended"))
            else:
                self._fail(ServerDisconnected("the server closed the connection before answering"))
        self._wake()

    # ---- httptools callbacks ---------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        low = name.lower()
        if low == b"content-length" or (low == b"transfer-encoding" and b"chunked" in value.lower()):
            self.delimited = True

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()  # read here: the parser resets once this returns
        self.complete = True
        self._wake()

    # ---- used by the pool and the reader ---------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self._wake()

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def wait(self, deadline: float | None, read_timeout: float | None) -> None:
        """Wait for the next parser event, under the request's deadline and the per-read timeout."""
        if self.error is not None:
            raise self.error
        limit = read_timeout
        if deadline is not None:
            left = deadline - self.loop.time()
            limit = left if limit is None else min(limit, left)
        fut: asyncio.Future[None] = self.loop.create_future()
        self.waiter = fut
        handle = self.loop.call_later(max(limit, 0.0), _timeout, fut) if limit is not None else None
        try:
            await fut
        finally:
            self.waiter = None
            if handle is not None:
                handle.cancel()

    def take(self) -> bytes:
        """The body bytes buffered so far (reading resumes if it was paused)."""
        data = b"".join(self.chunks) if len(self.chunks) != 1 else self.chunks[0]
        self.chunks.clear()
        self.buffered = 0
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()
        return data

    def header_map(self) -> CIMultiDict[str]:
        """The response headers, case-insensitive as aiohttp gives them."""
        return CIMultiDict((k.decode("latin-1"), v.decode("latin-1")) for k, v in self.headers)


class RawPool:
    """Keep-alive connections to one ``http://host:port`` for one event loop."""

    def __init__(self, url: SplitResult, headers: Mapping[str, str], *, pool: int, connect_timeout_s: float,
                 keepalive_s: float = KEEPALIVE_S) -> None:
        for k, v in headers.items():
            if any(c in k + v for c in "\r\n\0"):
                raise ValueError(f"header {k!r} holds a line break")
        self.host = url.hostname or ""
        self.port = url.port or 80
        self.prefix = quote(url.path.rstrip("/"), safe="/%:@!$&'()*+,;=-._~")  # as aiohttp would send it
        merged = CIMultiDict({"Host": url.netloc, "User-Agent": f"smallfirst/{__version__}", "Accept": "*/*"})
        merged.update(headers)  # the backend's own headers win (a vendor User-Agent, auth, versions)
        self._head = "".join(f"{k}: {v}\r\n" for k, v in merged.items())
        self._idle: deque[Conn] = deque()
        self._slots = asyncio.Semaphore(pool)
        self._connect_timeout = connect_timeout_s
        self._keepalive = keepalive_s
        self.loop = asyncio.get_running_loop()

    async def _connect(self, deadline: float | None) -> Conn:
        limit = self._connect_timeout
        if deadline is not None:
            limit = min(limit, max(deadline - self.loop.time(), 0.0))
        _, conn = await asyncio.wait_for(
            self.loop.create_connection(lambda: Conn(self.loop), self.host, self.port), limit)
        return conn

    def _pooled(self) -> Conn | None:
        now = self.loop.time()
        while self._idle:
            conn = self._idle.pop()  # the most recently used: the least likely to be closing
            if conn.closed or conn.transport is None or conn.transport.is_closing():
                continue
            if now - conn.idle_since > self._keepalive:
                conn.close()
                continue
            return conn
        return None

    async def send(self, method: str, path: str, body: bytes | None, content_type: str, *,
                   deadline: float | None, read_timeout: float | None) -> Conn:
        """Write one request and wait for its status line and headers; the caller must :meth:`release`
        the returned connection (after reading the body) or :meth:`discard` it."""
        if self._slots.locked() and deadline is not None:  # every connection is busy: wait, within the deadline
            await asyncio.wait_for(self._slots.acquire(), max(deadline - self.loop.time(), 0.0))
        else:
            await self._slots.acquire()
        conn: Conn | None = None
        try:
            conn = self._pooled() or await self._connect(deadline)
            conn.begin()
            if body is None:
                head = f"{method} {self.prefix}{path} HTTP/1.1\r\n{self._head}\r\n"
                payload = head.encode("latin-1")
            else:
                head = (f"{method} {self.prefix}{path} HTTP/1.1\r\n{self._head}Content-Type: {content_type}\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n")
                payload = head.encode("latin-1") + body
            assert conn.transport is not None
            conn.transport.write(payload)
            while not conn.headers_done:
                await conn.wait(deadline, read_timeout)
            return conn
        except BaseException:
            if conn is not None:
                conn.close()
            self._slots.release()
            raise

    def release(self, conn: Conn) -> None:
        """Give back a connection whose response was read to the end (it is kept alive when it can be)."""
        if conn.complete and conn.keep_alive and not conn.closed and conn.error is None:
            conn.idle_since = self.loop.time()
            self._idle.append(conn)
        else:
            conn.close()
        self._slots.release()

    def discard(self, conn: Conn) -> None:
        """Give back a connection whose response was abandoned or failed: it is closed."""
        conn.close()
        self._slots.release()

    async def read(self, conn: Conn, deadline: float | None, read_timeout: float | None) -> bytes:
        """The whole body of the current response."""
        parts: list[bytes] = []
        while True:
            if conn.chunks:
                parts.append(conn.take())
            if conn.complete:
                break
            await conn.wait(deadline, read_timeout)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def chunks(self, conn: Conn, read_timeout: float | None) -> AsyncIterator[bytes]:
        """The body of the current response, piece by piece as it arrives."""
        while True:
            if conn.chunks:
                yield conn.take()  # more may arrive while the consumer holds this piece: look again
            elif conn.complete:
                return
            else:
                await conn.wait(None, read_timeout)

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
