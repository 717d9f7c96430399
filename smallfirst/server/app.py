"""create_app(settings): a bare-ASGI OpenAI-compatible gateway. No module globals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from smallfirst.config.schema import Settings
from smallfirst.core.errors import (
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    ShuttingDownError,
    SmallfirstError,
    StreamInterruptedError,
)
from smallfirst.core.types import Admission, Decision
from smallfirst.pipeline import Pipeline, build_pipeline
from smallfirst.request import RequestContext
from smallfirst.resilience import metrics as resilience_metrics
from smallfirst.server import render
from smallfirst.server.admin import Admin, build_view
from smallfirst.server.anthropic_api import ANTHROPIC_PATH, AnthropicMessages
from smallfirst.server.headers import decision_headers, error_headers
from smallfirst.server.metrics import Metrics
from smallfirst.server.validate import parse_json, to_request
from smallfirst.stream import Stream

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
               (b"x-accel-buffering", b"no")]


class Gateway:
    """The ASGI application. Build it with :func:`create_app`."""

    def __init__(self, settings: Settings, pipeline: Pipeline) -> None:
        self.settings = settings
        self.pipeline = pipeline
        view = build_view(settings, pipeline.tiers)
        self.metrics = Metrics(view.tiers, view.local, view.target)
        self.engine = pipeline.engine(observers=[self.metrics.observe])
        self.access = pipeline.access  # API keys, limits, budgets (in memory or shared)
        resilience_metrics.register(self.metrics.registry, pipeline.tiers)  # breakers and retries
        self.max_body = settings.server.max_body_bytes
        self._anthropic = AnthropicMessages(self)
        self._routes: dict[tuple[str, str], Callable[[Scope, Receive, Send], Awaitable[None]]] = {
            ("POST", "/v1/chat/completions"): self.chat_completions,
            ("POST", ANTHROPIC_PATH): self._anthropic,  # Anthropic Messages API, same engine path
            ("GET", "/v1/models"): self.access.guard(self.models, self.send_error),
            ("GET", "/healthz"): self.healthz,
        }
        self.admin = Admin(self, view)  # /admin/api/*, /metrics, /dashboard
        self._routes.update(self.admin.routes())
        self._paths = {p for _, p in self._routes}
        self._closed = False

    # ---- ASGI plumbing -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self._routes.get((scope["method"], scope["path"]))
            if handler is not None:
                await handler(scope, receive, send)
                return
            path = scope["path"]
            err: SmallfirstError = (MethodNotAllowedError(f"{scope['method']} is not allowed on {path}")
                                    if path in self._paths else NotFoundError(f"no route {path}",
                                    hint="the OpenAI-compatible API lives under /v1"))
            if path == ANTHROPIC_PATH or path.startswith(ANTHROPIC_PATH + "/"):  # Anthropic SDKs: Anthropic's shape
                await self._anthropic.send_error(send, err, "")
                return
            await self.send_error(send, err, "")
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await self.warm_up()
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def warm_up(self, timeout_s: float = 60.0) -> None:
        """Load in-process models (the embedded backend) before serving, so the first request does not pay for
        it. Servers and APIs are not called at start-up."""
        local = [asyncio.ensure_future(e.backend.health()) for _, e in self.engine.endpoints()
                 if e.backend.capabilities.in_process]
        if local:
            _, slow = await asyncio.wait(local, timeout=timeout_s)
            for task in slow:  # a slow local server must not block start-up; requests will retry it
                task.cancel()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.engine.aclose()
        await asyncio.to_thread(self.access.close)
        await asyncio.to_thread(self.pipeline.store.close)

    @staticmethod
    async def send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [*JSON_HEADERS, (b"content-length", str(len(body)).encode()), *headers]})
        await send({"type": "http.response.body", "body": body})

    async def send_error(self, send: Send, err: SmallfirstError, request_id: str,
                         extra: list[tuple[bytes, bytes]] | None = None) -> None:
        await self.send_json(send, err.status, orjson.dumps(err.to_openai()),
                             error_headers(err, request_id) + (extra or []))

    async def read_body(self, scope: Scope, receive: Receive) -> bytes:
        for k, v in scope["headers"]:
            if k == b"content-length" and v.isdigit() and int(v) > self.max_body:
                raise PayloadTooLargeError(f"request body is {int(v)} bytes; the limit is {self.max_body}",
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
            if size > self.max_body:
                raise PayloadTooLargeError(f"request body exceeds the limit of {self.max_body} bytes",
                                           hint="raise server.max_body_bytes in smallfirst.toml", param="body")
            chunks.append(part)
            more = msg.get("more_body", False)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    # ---- handlers ----------------------------------------------------------------------------------

    async def models(self, scope: Scope, receive: Receive, send: Send) -> None:
        created = int(time.time())
        data = [{"id": i, "object": "model", "created": created, "owned_by": o} for i, o in self.engine.model_ids()]
        await self.send_json(send, 200, orjson.dumps({"object": "list", "data": data}), [])

    async def healthz(self, scope: Scope, receive: Receive, send: Send) -> None:
        pairs = self.engine.endpoints()
        results = await asyncio.gather(*(e.backend.health() for _, e in pairs), return_exceptions=True)
        backends = []
        for (t, e), r in zip(pairs, results, strict=True):
            info = r if isinstance(r, dict) else {"ok": False, "error": type(r).__name__}
            backends.append({"tier": t.name, "endpoint": e.backend.name, "model": e.backend.model,
                             "location": e.location, **info})
        ok = all(b.get("ok") for b in backends)
        body = {"status": "ok" if ok else "degraded", "backends": backends}
        await self.send_json(send, 200 if ok else 503, orjson.dumps(body), [])

    async def chat_completions(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = self.engine.context()
        try:
            key = self.access.authenticate(scope["headers"])  # 401 before the body is read
            ctx.api_key_id = key.id if key is not None else None
            body = parse_json(await self.read_body(scope, receive))
            ctx.requested_model = body["model"] if isinstance(body.get("model"), str) else ""
            ctx.stream = body.get("stream") is True
            request = to_request(body, headers=scope["headers"], api_key_id=ctx.api_key_id)
            admission = await self.access.admit_async(key, request, ctx.request_id)  # 429: rate limits, budgets
            if self.engine.store_prompts:
                ctx.prompt_text = request.text()
            if request.stream:
                await self._stream(request, ctx, admission, receive, send)
                return
            resp, decision = await self.engine.complete(request, ctx, admission)
        except SmallfirstError as err:
            self.engine.record(ctx, status=err.status, error=err)
            await self.send_error(send, err, ctx.request_id)
            return
        except asyncio.CancelledError:  # still running when server.shutdown_timeout_s ran out
            if ctx.recorded:  # a stream already under way logged itself; its connection just closes
                raise
            stop = ShuttingDownError("the gateway is shutting down and stopped this request",
                                     hint="retry it: the gateway (or another replica) answers after the restart")
            self.engine.record(ctx, status=stop.status, error=stop)
            await self.send_error(send, stop, ctx.request_id, [(b"connection", b"close")])
            return
        out = render.completion(resp, ctx.request_id, int(ctx.ts), resp.model or decision.model)
        self.engine.record(ctx, status=200, decision=decision, usage=resp.usage, response_text=resp.content)
        await self.send_json(send, 200, out, decision_headers(decision, ctx.request_id))

    async def _stream(self, request: Any, ctx: RequestContext, admission: Admission, receive: Receive, send: Send,
                      frames: Callable[[Stream], render.StreamFrames] | None = None) -> None:
        """Serve a stream; ``frames`` renders it in another wire format (default: OpenAI chunks)."""
        stream = await self.engine.open_stream(request, ctx, admission)  # errors before the first byte → JSON error
        renderer: render.StreamFrames = (
            frames(stream) if frames is not None
            else render.ChunkRenderer(ctx.request_id, int(ctx.ts), stream.model, request.include_usage))
        info = stream.info()
        pre = Decision(info["tier"], info["model"], stream.step.endpoint.backend.name, info["reason"],
                       tuple(info["escalations"]), (), 0.0)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*SSE_HEADERS, *decision_headers(pre, ctx.request_id, with_cost=False)]})
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


def create_app(settings: Settings | None = None) -> Gateway:
    """Build the gateway from settings (default: one local tier on the embedded model)."""
    s = settings or Settings()
    return Gateway(s, build_pipeline(s))
