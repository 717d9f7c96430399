"""The HTTP client shared by the HTTP backends: one keep-alive pool per backend.

Plain ``http://`` upstreams (the local servers, on the hot path) go through the lean client in
:mod:`smallfirst.backends._raw_http`; ``https://`` APIs go through an aiohttp session. Either is created
lazily inside the running event loop and recreated if the backend is used from a different loop. Every
failure leaves here as a :mod:`smallfirst.core.errors` upstream error, translated by :class:`ErrorContext`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from smallfirst.backends._raw_http import Conn, RawPool, usable
from smallfirst.backends.errors import ErrorContext
from smallfirst.backends.sse import sse_events
from smallfirst.core.errors import UpstreamError

_JSON = {"Content-Type": "application/json"}
_JSON_TYPE = "application/json"
Framing = Callable[[AsyncGenerator[bytes, None]], AsyncGenerator[bytes, None]]  # body pieces → items


async def _split_lines(chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    """Body pieces → lines without their line ending (a last line without one is yielded too)."""
    buf = b""
    async for data in chunks:
        buf += data
        if b"\n" not in data:
            continue
        *complete, buf = buf.split(b"\n")
        for line in complete:
            yield line[:-1] if line.endswith(b"\r") else line
    if buf:
        yield buf


class HttpClient:
    """POST/GET JSON and stream response lines against one base URL."""

    def __init__(self, base_url: str, headers: Mapping[str, str], ctx: ErrorContext, *,
                 timeout_s: float, connect_timeout_s: float, pool: int = 256, lean: bool = True) -> None:
        """``lean``: use the lean client for a plain-http base URL (False: aiohttp for every URL)."""
        self.base_url = base_url.rstrip("/")
        self.ctx = ctx
        self._headers = dict(headers)
        self._pool = pool
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._raw_url = urlsplit(self.base_url) if lean and usable(urlsplit(self.base_url)) else None
        self._raw_pool: RawPool | None = None
        self._complete_timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        # streaming: no total limit, but each read (first byte included) must arrive within timeout_s
        self._stream_timeout = aiohttp.ClientTimeout(sock_connect=connect_timeout_s, sock_read=timeout_s)
        self._health_timeout = aiohttp.ClientTimeout(total=min(timeout_s, 5.0), sock_connect=connect_timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:  # never shows headers (they may hold a key)
        return f"HttpClient({self.base_url!r})"

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        s = self._session
        if s is None or s.closed or self._loop is not loop:
            s = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool, ttl_dns_cache=300),
                headers=self._headers,
            )
            self._session, self._loop = s, loop
        return s

    def _raw(self) -> RawPool | None:
        """The lean pool for a plain-http base URL (None: use aiohttp)."""
        if self._raw_url is None:
            return None
        p = self._raw_pool
        if p is None or p.loop is not asyncio.get_running_loop():
            if p is not None and not p.loop.is_closed() and not p.loop.is_running():
                p.close()  # idle connections of a finished loop (a CLI run that called asyncio.run twice)
            p = RawPool(self._raw_url, self._headers, pool=self._pool, connect_timeout_s=self._connect_timeout_s)
            self._raw_pool = p
        return p

    async def _json(self, method: str, path: str, data: bytes | None, limits: aiohttp.ClientTimeout) -> Any:
        """One request with a JSON answer: decoded, or a translated error."""
        raw = self._raw()
        if raw is not None:
            return await self._json_raw(raw, method, path, data, limits.total)
        try:
            async with self._client().request(method, self.base_url + path, data=data, headers=_JSON,
                                              timeout=limits) as resp:
                body = await resp.read()
                if resp.status >= 400:
                    raise self.ctx.from_status(resp.status, body, resp.headers)
                return orjson.loads(body)
        except UpstreamError:
            raise
        except Exception as exc:
            raise self.ctx.from_exception(exc) from exc

    async def _json_raw(self, raw: RawPool, method: str, path: str, data: bytes | None, total: float | None) -> Any:
        try:
            deadline = raw.loop.time() + total if total is not None else None
            conn = await raw.send(method, path, data, _JSON_TYPE, deadline=deadline, read_timeout=None)
            try:
                body = await raw.read(conn, deadline, None)
            except BaseException:
                raw.discard(conn)
                raise
            status = conn.status
            headers = conn.header_map() if status >= 400 else None  # read before the connection is reused
            raw.release(conn)
            if headers is not None:
                raise self.ctx.from_status(status, body, headers)
            return orjson.loads(body)
        except UpstreamError:
            raise
        except Exception as exc:
            raise self.ctx.from_exception(exc) from exc

    async def post_json(self, path: str, payload: Mapping[str, Any]) -> Any:
        """POST a JSON body under the completion timeout."""
        return await self._json("POST", path, orjson.dumps(payload), self._complete_timeout)

    async def get_json(self, path: str, *, method: str = "GET", payload: Mapping[str, Any] | None = None) -> Any:
        """A short control-plane call (health, model listing) under the health timeout."""
        data = orjson.dumps(payload) if payload is not None else None
        return await self._json(method, path, data, self._health_timeout)

    def _chunks(self, path: str, payload: Mapping[str, Any]) -> AsyncGenerator[bytes, None]:
        raw = self._raw()
        return self._raw_chunks(raw, path, payload) if raw is not None else self._aiohttp_chunks(path, payload)

    def lines(self, path: str, payload: Mapping[str, Any]) -> AsyncGenerator[bytes, None]:
        """POST, then yield the response body line by line (without the line ending). Close it (``aclosing``)
        when leaving early, so the connection goes back to the pool at once."""
        return self._framed(path, payload, _split_lines)

    def sse(self, path: str, payload: Mapping[str, Any]) -> AsyncGenerator[bytes, None]:
        """POST, then yield the ``data`` payload of each server-sent event (see :mod:`.sse`). Close it
        (``aclosing``) when leaving early, so the connection goes back to the pool at once."""
        return self._framed(path, payload, sse_events)

    async def _framed(self, path: str, payload: Mapping[str, Any], framing: Framing) -> AsyncGenerator[bytes, None]:
        source = self._chunks(path, payload)
        items = framing(source)
        got_bytes = False
        try:
            async for item in items:
                got_bytes = True
                yield item
        except UpstreamError:
            raise
        except Exception as exc:
            raise self.ctx.from_exception(exc, streamed=got_bytes) from exc
        finally:
            await items.aclose()
            await source.aclose()

    async def _aiohttp_chunks(self, path: str, payload: Mapping[str, Any]) -> AsyncGenerator[bytes, None]:
        async with self._client().post(self.base_url + path, data=orjson.dumps(payload), headers=_JSON,
                                       timeout=self._stream_timeout) as resp:
            if resp.status >= 400:
                raise self.ctx.from_status(resp.status, await resp.read(), resp.headers)
            async for data in resp.content.iter_any():
                yield data

    async def _raw_chunks(self, raw: RawPool, path: str, payload: Mapping[str, Any]) -> AsyncGenerator[bytes, None]:
        read = self._timeout_s  # no total limit, but each read (first byte included) within timeout_s
        conn: Conn | None = await raw.send("POST", path, orjson.dumps(payload), _JSON_TYPE, deadline=None,
                                           read_timeout=read)
        assert conn is not None
        try:
            if conn.status >= 400:
                body = await raw.read(conn, None, read)
                status, headers = conn.status, conn.header_map()
                raw.release(conn)
                conn = None
                raise self.ctx.from_status(status, body, headers)
            async for data in raw.chunks(conn, read):
                yield data
            raw.release(conn)
            conn = None
        finally:
            if conn is not None:  # left early: a body that has fully arrived still frees its connection
                if conn.complete and not conn.chunks:
                    raw.release(conn)
                else:
                    raw.discard(conn)

    async def aclose(self) -> None:
        p, self._raw_pool = self._raw_pool, None
        if p is not None:
            p.close()
        s, self._session = self._session, None
        if s is not None and not s.closed:
            await s.close()
