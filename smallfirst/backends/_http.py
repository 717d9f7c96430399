"""A thin aiohttp client shared by the HTTP backends: one keep-alive session per backend.

The session is created lazily inside the running event loop (aiohttp sessions are bound to a
loop) and recreated if the backend is used from a different loop. Every failure leaves here as a
:mod:`smallfirst.core.errors` upstream error, translated by :class:`ErrorContext`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson

from smallfirst.backends.errors import ErrorContext
from smallfirst.core.errors import UpstreamError

_JSON = {"Content-Type": "application/json"}


class HttpClient:
    """POST/GET JSON and stream response lines against one base URL."""

    def __init__(self, base_url: str, headers: Mapping[str, str], ctx: ErrorContext, *,
                 timeout_s: float, connect_timeout_s: float, pool: int = 256) -> None:
        self.base_url = base_url.rstrip("/")
        self.ctx = ctx
        self._headers = dict(headers)
        self._pool = pool
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

    async def _json(self, method: str, path: str, data: bytes | None, limits: aiohttp.ClientTimeout) -> Any:
        """One request with a JSON answer: decoded, or a translated error."""
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

    async def post_json(self, path: str, payload: Mapping[str, Any]) -> Any:
        """POST a JSON body under the completion timeout."""
        return await self._json("POST", path, orjson.dumps(payload), self._complete_timeout)

    async def get_json(self, path: str, *, method: str = "GET", payload: Mapping[str, Any] | None = None) -> Any:
        """A short control-plane call (health, model listing) under the health timeout."""
        data = orjson.dumps(payload) if payload is not None else None
        return await self._json(method, path, data, self._health_timeout)

    async def lines(self, path: str, payload: Mapping[str, Any]) -> AsyncIterator[bytes]:
        """POST, then yield the response body line by line (without the line ending)."""
        got_bytes = False
        try:
            async with self._client().post(self.base_url + path, data=orjson.dumps(payload), headers=_JSON,
                                           timeout=self._stream_timeout) as resp:
                if resp.status >= 400:
                    raise self.ctx.from_status(resp.status, await resp.read(), resp.headers)
                buf = b""
                async for data in resp.content.iter_any():
                    got_bytes = True
                    buf += data
                    if b"\n" not in data:
                        continue
                    *complete, buf = buf.split(b"\n")
                    for line in complete:
                        yield line[:-1] if line.endswith(b"\r") else line
                if buf:
                    yield buf
        except UpstreamError:
            raise
        except Exception as exc:
            raise self.ctx.from_exception(exc, streamed=got_bytes) from exc

    async def aclose(self) -> None:
        s, self._session = self._session, None
        if s is not None and not s.closed:
            await s.close()


async def sse_data(lines: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Server-sent events → the ``data`` payload of each event (multi-line data joined by newlines)."""
    parts: list[bytes] = []
    async for line in lines:
        if not line:
            if parts:
                yield parts[0] if len(parts) == 1 else b"\n".join(parts)
                parts = []
        elif line.startswith(b"data:"):
            value = line[5:]
            parts.append(value[1:] if value.startswith(b" ") else value)
        # "event:", "id:", "retry:" and ":" comments carry nothing the payload does not
    if parts:
        yield parts[0] if len(parts) == 1 else b"\n".join(parts)
