"""``POST /v1/embeddings``: the key check (401), the body (413, 400), admission (429: rate limits and
budgets), the embeddings route (:class:`~smallfirst.embeddings.service.EmbeddingService`), one row in the
request log and the ``x-smallfirst-*`` decision headers — the same steps as the chat handler."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from smallfirst.access.gate import Access
from smallfirst.core.errors import ShuttingDownError, SmallfirstError
from smallfirst.core.types import Usage
from smallfirst.embeddings.service import EmbeddingService
from smallfirst.engine import Engine
from smallfirst.server.asgi import Receive, Scope, Send, read_body, send_json, send_openai_error
from smallfirst.server.headers import decision_headers
from smallfirst.wire import openai_embeddings
from smallfirst.wire.openai_parse import parse_json


class EmbeddingsHandler:
    """The ASGI handler of ``/v1/embeddings``; the engine supplies request ids and the request log."""

    def __init__(self, service: EmbeddingService, engine: Engine, access: Access, max_body: int,
                 resolve: Callable[[str], str] | None = None) -> None:
        """``resolve``: config's ``[aliases]`` (a model name a client sends → a route), applied first."""
        self.service = service
        self.resolve = resolve
        self.engine = engine
        self.access = access
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = self.engine
        ctx = engine.context()
        try:
            key = self.access.authenticate(scope["headers"])  # 401 before the body is read
            engine.caller(ctx, key.id if key is not None else None)
            body = parse_json(await read_body(scope, receive, self.max_body))
            engine.received(ctx, body)
            req = openai_embeddings.parse(body, scope["headers"], ctx.api_key_id)
            if self.resolve is not None:
                req = replace(req, model=self.resolve(req.model))
            chat = openai_embeddings.as_chat(req)
            admission = await self.access.admit_async(key, chat, ctx.request_id)
            if engine.store_prompts:
                ctx.prompt_text = req.text()
            out, decision = await self.service.embed(req, chat, ctx, admission)
            payload = openai_embeddings.render(out, req.encoding_format)
        except SmallfirstError as err:
            engine.record(ctx, status=err.status, error=err)
            await send_openai_error(send, err, ctx.request_id)
            return
        except asyncio.CancelledError:  # still running when server.shutdown_timeout_s ran out
            stop = ShuttingDownError("the gateway is shutting down and stopped this request",
                                     hint="retry it: the gateway (or another replica) answers after the restart")
            engine.record(ctx, status=stop.status, error=stop)
            await send_openai_error(send, stop, ctx.request_id, [(b"connection", b"close")])
            return
        engine.record(ctx, status=200, decision=decision, usage=Usage(out.prompt_tokens, 0))
        await send_json(send, 200, payload, decision_headers(decision, ctx.request_id, feedback=False))
