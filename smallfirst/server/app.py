"""create_app(settings): a bare-ASGI OpenAI- and Anthropic-compatible gateway. No module globals.

Routes map to a :class:`~smallfirst.server.handler.WireHandler` per wire format (one generic request
path), plus ``/v1/models``, ``/healthz`` and the admin surface.
"""

from __future__ import annotations

import asyncio

import orjson

from smallfirst.config.aliases import resolver
from smallfirst.config.schema import Settings
from smallfirst.core.errors import MethodNotAllowedError, SmallfirstError
from smallfirst.pipeline import Pipeline, build_pipeline
from smallfirst.pipeline.embeddings import build_embeddings
from smallfirst.resilience import metrics as resilience_metrics
from smallfirst.server import admin_router, cache_metrics, count_tokens, runtime_metrics
from smallfirst.server.admin import Admin, build_view
from smallfirst.server.asgi import Handler, Receive, Scope, Send, send_json, send_openai_error
from smallfirst.server.embeddings_handler import EmbeddingsHandler
from smallfirst.server.feedback import PATH as FEEDBACK_PATH
from smallfirst.server.feedback import FeedbackHandler
from smallfirst.server.handler import WireHandler
from smallfirst.server.metrics import Metrics
from smallfirst.server.models import PREFIX as MODEL_PREFIX
from smallfirst.server.models import Models, route_not_found
from smallfirst.wire import anthropic_messages, openai_chat, openai_completions, openai_embeddings
from smallfirst.wire.aliased import with_aliases
from smallfirst.wire.openai_responses import PATH as RESPONSES_PATH
from smallfirst.wire.openai_responses import build as build_responses


class Gateway:
    """The ASGI application. Build it with :func:`create_app`."""

    def __init__(self, settings: Settings, pipeline: Pipeline) -> None:
        self.settings = settings
        self.pipeline = pipeline
        view = build_view(settings, pipeline.tiers)
        self.metrics = Metrics(view.tiers, view.local, view.target,
                               corrections=getattr(pipeline.router, "corrections", None))  # mix governor
        self.engine = pipeline.engine(observers=[self.metrics.observe])
        self.access = pipeline.access  # API keys, limits, budgets (in memory or shared)
        resilience_metrics.register(self.metrics.registry, pipeline.tiers)  # breakers and retries
        cache_metrics.register(self.metrics.registry, pipeline.cache)  # [cache]: lookups, saved USD, size
        runtime_metrics.register(self.metrics.registry, pipeline.runtime)  # local runtimes: loaded, busy, queue
        admin_router.register(self.metrics.registry, pipeline.router, settings.routing.router)  # identity, reloads
        max_body = settings.server.max_body_bytes
        resolve = resolver(settings.aliases)  # [aliases]: a model name clients send → a route
        self.chat = WireHandler(with_aliases(openai_chat.OpenAIChat(), resolve), self.engine, self.access, max_body)
        self.messages = WireHandler(with_aliases(anthropic_messages.AnthropicMessages(), resolve), self.engine,
                                    self.access, max_body)
        self.responses_wire = build_responses(settings)  # [responses] store: kept beside the log, or not
        self.responses = WireHandler(with_aliases(self.responses_wire, resolve), self.engine, self.access, max_body)
        self.completions = WireHandler(with_aliases(openai_completions.OpenAICompletions(), resolve), self.engine,
                                       self.access, max_body)
        self.embeddings = EmbeddingsHandler(build_embeddings(pipeline), self.engine, self.access, max_body, resolve)
        self.models = Models(self.engine.model_ids(), settings.aliases)
        self._model_one = self.access.guard(self.models.retrieve, send_openai_error)
        self._routes: dict[tuple[str, str], Handler] = {
            ("POST", openai_chat.PATH): self.chat,
            ("POST", anthropic_messages.PATH): self.messages,  # Anthropic Messages API, same request path
            ("POST", RESPONSES_PATH): self.responses,  # OpenAI Responses API, same request path
            ("POST", openai_embeddings.PATH): self.embeddings,  # the embeddings route (built-in local model by default)
            ("POST", openai_completions.PATH): self.completions,  # legacy text completions, via the chat template
            ("POST", count_tokens.PATH): count_tokens.CountTokens(pipeline.tiers, self.access, max_body, resolve),
            ("GET", "/v1/models"): self.access.guard(self.models.list, send_openai_error),
            ("GET", "/healthz"): self.healthz,
            ("POST", FEEDBACK_PATH): FeedbackHandler(pipeline.store, self.access, max_body=max_body,
                                                     store_prompts=settings.log.store_prompts),  # a verdict
        }
        self.admin = Admin(settings, pipeline, self.engine, self.metrics, view)  # /admin/api/*, /metrics, /dashboard
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
            if scope["method"] == "GET" and path.startswith(MODEL_PREFIX):
                await self._model_one(scope, receive, send)
                return
            err: SmallfirstError = (MethodNotAllowedError(f"{scope['method']} is not allowed on {path}")
                                    if path in self._paths else route_not_found(scope["method"], path, self._routes))
            messages = anthropic_messages.PATH
            if path == messages or path.startswith(messages + "/"):  # Anthropic SDKs: Anthropic's shape
                await self.messages.send_error(send, err, "")
                return
            await send_openai_error(send, err, "")
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await self.warm_up()
                if self.pipeline.runtime is not None:
                    self.pipeline.runtime.start()  # polls local runtimes (and pre-loads warm = "keep" models)
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def warm_up(self, timeout_s: float = 60.0) -> None:
        """Load in-process models (the embedded backend) before serving, so the first request does not pay for
        it. Servers and APIs are not called at start-up."""
        local = [asyncio.ensure_future(e.backend.health()) for _, e in self.engine.endpoints()
                 if e.capabilities.in_process]
        if local:
            _, slow = await asyncio.wait(local, timeout=timeout_s)
            for task in slow:  # a slow local server must not block start-up; requests will retry it
                task.cancel()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.pipeline.runtime is not None:
            await self.pipeline.runtime.aclose()
        await self.engine.aclose()
        await self.embeddings.service.aclose()
        await asyncio.to_thread(self.access.close)
        await asyncio.to_thread(self.responses_wire.close)
        await asyncio.to_thread(self.pipeline.store.close)
        if self.pipeline.cache is not None:
            await asyncio.to_thread(self.pipeline.cache.close)

    # ---- handlers ----------------------------------------------------------------------------------

    async def healthz(self, scope: Scope, receive: Receive, send: Send) -> None:
        pairs = self.engine.endpoints()
        rt = self.pipeline.runtime
        results = await asyncio.gather(*(e.backend.health() for _, e in pairs), return_exceptions=True)
        if rt:
            await rt.refresh()  # on demand: the runtimes' state now
        backends = []
        for (t, e), r in zip(pairs, results, strict=True):
            info = r if isinstance(r, dict) else {"ok": False, "error": type(r).__name__}
            state = rt.snapshot(e.backend.name) if rt is not None else None
            backends.append({"tier": t.name, "endpoint": e.backend.name, "model": e.backend.model,
                             "location": e.location, **info, **({"runtime": state} if state else {})})
        ok = all(b.get("ok") for b in backends)
        body = {"status": "ok" if ok else "degraded", "backends": backends}
        await send_json(send, 200 if ok else 503, orjson.dumps(body), [])


def create_app(settings: Settings | None = None) -> Gateway:
    """Build the gateway from settings (default: one local tier on the embedded model)."""
    s = settings or Settings()
    return Gateway(s, build_pipeline(s))
