"""The one request handler every wire format goes through.

Per request, whatever the API: the key check (401 before the body is read), the body read (413), the
adapter's parse (400), admission (429: rate limits and budgets, giving an
:class:`~smallfirst.core.types.Admission`), the engine (answer, or a stream committed at its first
chunk), the request log and the ``x-smallfirst-*`` decision headers. A stream is pumped into a buffer as
fast as the upstream delivers it and sent in as few writes as possible; a client that disconnects is
logged as 499; an upstream failing mid-stream ends the stream with the format's error frame (502); a
request still running when the server's shutdown timeout ends is answered 503 and logged.
"""

from __future__ import annotations

import asyncio

from smallfirst.access.gate import Access
from smallfirst.core.errors import ShuttingDownError, SmallfirstError, StreamInterruptedError
from smallfirst.core.types import Admission, ChatRequest, Decision
from smallfirst.engine import Engine
from smallfirst.request import RequestContext
from smallfirst.server.asgi import SSE_HEADERS, Headers, Receive, Scope, Send, read_body, send_json
from smallfirst.server.headers import cache_headers, decision_headers, error_headers, with_cache_control
from smallfirst.wire import WireFormat
from smallfirst.wire.openai_parse import parse_json


class WireHandler:
    """The ASGI handler of one wire format's route."""

    def __init__(self, wire: WireFormat, engine: Engine, access: Access, max_body: int) -> None:
        self.wire = wire
        self.engine = engine
        self.access = access
        self.max_body = max_body

    async def send_error(self, send: Send, err: SmallfirstError, request_id: str, extra: Headers | None = None
                         ) -> None:
        body, headers = self.wire.error(err, request_id)
        await send_json(send, err.status, body, error_headers(err, request_id) + headers + (extra or []))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = self.engine
        ctx = engine.context()
        try:
            key = self.access.authenticate(scope["headers"])  # 401 before the body is read
            engine.caller(ctx, key.id if key is not None else None)
            body = parse_json(await read_body(scope, receive, self.max_body))
            engine.received(ctx, body)
            request = self.wire.request(body, scope["headers"], ctx.api_key_id)
            if engine.cache is not None:
                request = with_cache_control(request, scope["headers"])
            admission = await self.access.admit_async(key, request, ctx.request_id)
            if request.stream:
                await self._stream(request, ctx, admission, receive, send)
                return
            resp, decision = await engine.complete(request, ctx, admission)
            out, extra = self.wire.answer(resp, ctx, decision)
        except SmallfirstError as err:
            engine.record(ctx, status=err.status, error=err)
            await self.send_error(send, err, ctx.request_id, cache_headers(ctx.cache))
            return
        except asyncio.CancelledError:  # still running when server.shutdown_timeout_s ran out
            if ctx.recorded:  # a stream already under way logged itself; its connection just closes
                raise
            stop = ShuttingDownError("the gateway is shutting down and stopped this request",
                                     hint="retry it: the gateway (or another replica) answers after the restart")
            engine.record(ctx, status=stop.status, error=stop)
            await self.send_error(send, stop, ctx.request_id, [(b"connection", b"close")])
            return
        engine.record(ctx, status=200, decision=decision, usage=resp.usage, response_text=resp.content)
        await send_json(send, 200, out,
                        [*decision_headers(decision, ctx.request_id), *cache_headers(ctx.cache), *extra])

    async def _stream(self, request: ChatRequest, ctx: RequestContext, admission: Admission, receive: Receive,
                      send: Send) -> None:
        stream = await self.engine.open_stream(request, ctx, admission)  # errors before the first byte → JSON
        renderer = self.wire.frames(request, ctx, stream)
        pre = Decision(stream.tier, stream.model, stream.step.endpoint.backend.name, ctx.reason,
                       tuple(ctx.escalations), (), 0.0)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*SSE_HEADERS, *decision_headers(pre, ctx.request_id, with_cost=False),
                                *cache_headers(ctx.cache)]})
        # A pump task renders chunks into a buffer as fast as the upstream delivers them; this loop sends
        # whatever has accumulated in one write. Events that arrive together leave together (one write,
        # not one per event), and nothing waits: the loop wakes as soon as the first event is buffered.
        buf: list[bytes] = []
        wake = asyncio.Event()
        finished = False

        async def pump() -> None:
            nonlocal finished
            try:
                async for chunk in stream:
                    buf.append(renderer.chunk(chunk))
                    wake.set()
            finally:
                finished = True
                wake.set()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            wake.set()

        producer = asyncio.ensure_future(pump())
        watcher = asyncio.ensure_future(watch())
        status, outcome, error = 200, "ok", None
        try:
            while True:
                await wake.wait()
                wake.clear()
                if watcher.done():
                    status, outcome = 499, "client_disconnected"
                    break
                if buf:
                    data = buf[0] if len(buf) == 1 else b"".join(buf)
                    buf.clear()
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                if finished:
                    break
            if status == 200:
                await producer  # re-raises an upstream failure
                await send({"type": "http.response.body", "body": renderer.tail(stream.final_usage()),
                            "more_body": False})
        except StreamInterruptedError as err:
            status, outcome, error = 502, err.code or "stream_interrupted", err
            await send({"type": "http.response.body", "body": renderer.error(err), "more_body": False})
        except (OSError, asyncio.CancelledError):
            status, outcome = 499, "client_disconnected"
            raise
        finally:
            watcher.cancel()
            if not producer.done():
                producer.cancel()
            elif not producer.cancelled():
                producer.exception()  # retrieved: an upstream error after a disconnect is not re-raised
            decision = stream.settle(outcome)
            self.engine.record(ctx, status=status, error=error, decision=decision, usage=stream.usage,
                               response_text="".join(stream.text_parts))
