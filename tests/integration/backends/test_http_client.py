"""The HTTP client against real sockets on 127.0.0.1: a tiny asyncio server writes exact bytes, so every
framing (Content-Length, chunked, close-delimited), keep-alive, back-pressure, cut and timeout case is
driven for real, and errors come out translated as the backends see them. The protocol tests run on both
transports: the lean client (plain http, the default) and aiohttp (https, or ``http_client = "aiohttp"``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from smallfirst.backends._http import HttpClient
from smallfirst.backends._raw_http import HIGH_WATER
from smallfirst.backends.errors import ErrorContext
from smallfirst.core.errors import (
    StreamInterruptedError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


@dataclass
class Server:
    handler: Handler
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length) if length else b""
        self.requests.append(head + body)
        return head + body


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[tuple[Server, str]]:
    state = Server(handler)
    srv = await asyncio.start_server(state.serve, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield state, f"http://127.0.0.1:{port}/v1"
    finally:
        srv.close()
        await srv.wait_closed()


def client(url: str, *, timeout_s: float = 5.0, pool: int = 8, headers: dict[str, str] | None = None,
           lean: bool = True) -> HttpClient:
    ctx = ErrorContext("test:raw", url, timeout_s, None, "start the test server")
    return HttpClient(url, headers or {}, ctx, timeout_s=timeout_s, connect_timeout_s=1.0, pool=pool, lean=lean)


@pytest.fixture(params=[True, False], ids=["lean", "aiohttp"])
def lean(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def response(body: bytes, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
            + extra + b"\r\n" + body)


async def keep_alive_json(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
    while True:
        req = await s.read_request(reader)
        body = b'{"n": %d, "len": %d}' % (len(s.requests), len(req))
        writer.write(response(body))
        await writer.drain()


async def test_json_round_trip_reuses_one_connection_and_sends_a_correct_request(lean: bool) -> None:
    async with serving(keep_alive_json) as (srv, url):
        c = client(url, lean=lean, headers={"Authorization": "Bearer sk-test", "User-Agent": "vendor-sdk/1"})
        try:
            results = [await c.post_json("/chat/completions", {"q": i}) for i in range(3)]
            listed = await c.get_json("/models")
        finally:
            await c.aclose()
    assert [r["n"] for r in results] == [1, 2, 3] and listed["n"] == 4
    assert srv.connections == 1  # keep-alive
    first = srv.requests[0].decode()
    assert first.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
    assert f"Host: {url.split('/')[2]}\r\n" in first and "Authorization: Bearer sk-test\r\n" in first
    assert first.count("User-Agent:") == 1 and "User-Agent: vendor-sdk/1\r\n" in first  # configured wins
    assert first.endswith('\r\n\r\n{"q":0}') and "Content-Length: 7\r\n" in first
    assert srv.requests[3].decode().startswith("GET /v1/models HTTP/1.1\r\n") and "Content-Length" not in \
        srv.requests[3].decode()


async def test_chunked_and_close_delimited_bodies_are_read_whole(lean: bool) -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
        await s.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for part in (b'{"a":', b' [1, 2', b', 3]}'):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        await reader.read()  # keep the connection until the client goes

    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
        await s.read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"b": true}')
        await writer.drain()

    for handler, want in ((chunked, {"a": [1, 2, 3]}), (until_close, {"b": True})):
        async with serving(handler) as (_, url):
            c = client(url, lean=lean)
            try:
                assert await c.post_json("/x", {}) == want
            finally:
                await c.aclose()


async def test_a_response_that_says_connection_close_is_not_kept(lean: bool) -> None:
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
        await s.read_request(reader)
        writer.write(response(b"{}", extra=b"Connection: close\r\n"))
        await writer.drain()
        await asyncio.sleep(0.2)  # the socket lingers open: only the header says it will not be reused

    async with serving(closing) as (srv, url):
        c = client(url, lean=lean)
        try:
            assert await c.post_json("/x", {}) == {} and await c.post_json("/x", {}) == {}
        finally:
            await c.aclose()
    assert srv.connections == 2


async def test_a_slow_consumer_gets_every_streamed_byte(lean: bool) -> None:
    """Pieces that arrive while the consumer holds the previous one, and the end of the body with them,
    must all be delivered (the regression: the end flag was seen before the last pieces were taken)."""
    lines = [b"data: {\"i\": %d}" % i for i in range(50)] + [b"data: [DONE]"]

    async def sse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
        await s.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for line in lines:
            part = line + b"\n\n"
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with serving(sse) as (_, url):
        c = client(url, lean=lean)
        got: list[bytes] = []
        try:
            async for line in c.lines("/chat/completions", {"stream": True}):
                got.append(line)
                await asyncio.sleep(0.001)  # the server has long finished: the rest waits in the buffer
        finally:
            await c.aclose()
    assert [x for x in got if x] == lines


async def test_a_large_body_pauses_reading_and_still_arrives_intact(lean: bool) -> None:
    """While the consumer sleeps the server writes 3× the high-water mark: reading pauses (memory stays
    bounded) and must resume, or this test hangs and times out."""
    blob = b"x" * (3 * HIGH_WATER)

    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
        await s.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nstart\n" % (len(blob) + 7))
        writer.write(blob + b"\n")
        await writer.drain()
        await reader.read()

    async with serving(big) as (_, url):
        c = client(url, lean=lean)
        got: list[bytes] = []
        try:
            async for line in c.lines("/big", {}):
                got.append(line)
                await asyncio.sleep(0.3)  # the whole body reaches the socket meanwhile
        finally:
            await c.aclose()
    assert got == [b"start", blob]


async def test_errors_are_translated_the_same_on_both_transports(lean: bool) -> None:
    async def rate_limited(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
        await s.read_request(reader)
        writer.write(response(b'{"error": {"message": "slow down"}}', "429 Too Many Requests",
                              b"Retry-After: 7\r\n"))
        await writer.drain()
        await reader.read()

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
        await s.read_request(reader)

    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
        await s.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ndata: {}\n\npartial")
        await writer.drain()

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
        await s.read_request(reader)
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with serving(rate_limited) as (_, url):
        c = client(url, lean=lean)
        with pytest.raises(UpstreamRateLimitError, match="slow down") as e:
            await c.post_json("/x", {})
        assert e.value.retry_after_s == 7.0
        await c.aclose()
    async with serving(hang_up) as (_, url):
        c = client(url, lean=lean)
        with pytest.raises(UpstreamUnavailableError, match="closed the connection before answering"):
            await c.post_json("/x", {})
        await c.aclose()
    async with serving(cut) as (_, url):
        c = client(url, lean=lean)
        got: list[bytes] = []
        with pytest.raises(StreamInterruptedError, match="cut before the response ended"):
            async for line in c.lines("/x", {}):
                got.append(line)
        assert got[0] == b"data: {}"
        await c.aclose()
    async with serving(garbage) as (_, url):
        c = client(url, lean=lean)
        with pytest.raises(UpstreamError, match="invalid HTTP response" if lean else None):
            await c.post_json("/x", {})
        await c.aclose()


async def test_timeouts_connect_refusal_and_pool_limit(lean: bool) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
        await s.read_request(reader)
        await asyncio.sleep(5)

    async with serving(silent) as (_, url):
        c = client(url, lean=lean, timeout_s=0.2)
        with pytest.raises(UpstreamTimeoutError):
            await c.post_json("/x", {})
        with pytest.raises(UpstreamTimeoutError):  # streaming: the first read must come within timeout_s
            async for _ in c.lines("/x", {}):
                pass
        await c.aclose()

    async with serving(keep_alive_json) as (_, url):
        port = url.split(":")[2].split("/")[0]
    c = client(f"http://127.0.0.1:{port}/v1", lean=lean)  # the server is gone: nothing listens there now
    with pytest.raises(UpstreamUnavailableError, match="cannot connect"):
        await c.post_json("/x", {})
    await c.aclose()

    async def slow_json(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
        while True:
            await s.read_request(reader)
            await asyncio.sleep(0.05)
            writer.write(response(b"{}"))
            await writer.drain()

    async with serving(slow_json) as (srv, url):
        c = client(url, lean=lean, pool=1)
        await asyncio.gather(*(c.post_json("/x", {}) for _ in range(4)))
        assert srv.connections == 1  # one connection, used in turn
        await c.aclose()


async def test_an_idle_connection_past_keepalive_is_not_reused() -> None:
    async with serving(keep_alive_json) as (srv, url):
        c = client(url)
        await c.post_json("/x", {})
        pool = c._raw()
        assert pool is not None
        pool._keepalive = 0.05  # the servers' idle timeouts are seconds; shrink ours to test the rule
        await asyncio.sleep(0.1)
        await c.post_json("/x", {})
        await c.aclose()
    assert srv.connections == 2


async def test_https_and_odd_urls_stay_on_aiohttp_and_header_breaks_are_refused() -> None:
    assert client("https://api.openai.com/v1")._raw_url is None
    assert client("http://user:pw@127.0.0.1:9/v1")._raw_url is None
    assert client("http://127.0.0.1:9/v1")._raw_url is not None
    assert client("http://127.0.0.1:9/v1", lean=False)._raw_url is None  # http_client = "aiohttp"
    with pytest.raises(ValueError, match="line break"):
        client("http://127.0.0.1:9/v1", headers={"X-Bad": "a\r\nInjected: 1"})._raw()
