"""``POST /v1/messages``: the Anthropic Messages API on the gateway, for unmodified Anthropic clients.

The request is validated and translated to the OpenAI shape (:mod:`.anthropic_request`), then served
by the very same path as ``/v1/chat/completions``: API key check (``x-api-key`` or ``Authorization:
Bearer``), admission, signals → policies → router → tier chain with fallbacks and residency, the
request log and the ``x-smallfirst-*`` decision headers. Answers, streams and errors are rendered in
Anthropic's shapes (:mod:`.anthropic_render`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

from smallfirst.core.errors import ShuttingDownError, SmallfirstError
from smallfirst.core.types import Decision
from smallfirst.request import RequestContext
from smallfirst.server import anthropic_render as render
from smallfirst.server.anthropic_request import to_openai
from smallfirst.server.headers import decision_headers, error_headers
from smallfirst.server.validate import parse_json, to_request
from smallfirst.stream import Stream

if TYPE_CHECKING:
    from smallfirst.server.app import Gateway, Receive, Scope, Send

ANTHROPIC_PATH = "/v1/messages"


class AnthropicMessages:
    """The ASGI handler for ``POST /v1/messages`` (registered by the gateway)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gw = self.gw
        ctx = gw.engine.context()
        decision: Decision | None = None
        try:
            key = gw.access.authenticate(scope["headers"])  # 401 before the body is read
            ctx.api_key_id = key.id if key is not None else None
            body = parse_json(await gw.read_body(scope, receive))
            ctx.requested_model = body["model"] if isinstance(body.get("model"), str) else ""
            ctx.stream = body.get("stream") is True
            request = to_request(to_openai(body), headers=scope["headers"], api_key_id=ctx.api_key_id)
            admission = await gw.access.admit_async(key, request, ctx.request_id)  # 429: rate limits, budgets
            if gw.engine.store_prompts:
                ctx.prompt_text = request.text()
            if request.stream:
                await gw._stream(request, ctx, admission, receive, send, frames=self._frames(ctx))
                return
            resp, decision = await gw.engine.complete(request, ctx, admission)
            out = render.message(resp, ctx.request_id, resp.model or decision.model)
        except SmallfirstError as err:
            gw.engine.record(ctx, status=err.status, error=err, decision=decision)
            await self.send_error(send, err, ctx.request_id)
            return
        except asyncio.CancelledError:  # still running when server.shutdown_timeout_s ran out
            if ctx.recorded:  # a stream already under way logged itself; its connection just closes
                raise
            stop = ShuttingDownError("the gateway is shutting down and stopped this request",
                                     hint="retry it: the gateway (or another replica) answers after the restart")
            gw.engine.record(ctx, status=stop.status, error=stop)
            await self.send_error(send, stop, ctx.request_id, [(b"connection", b"close")])
            return
        gw.engine.record(ctx, status=200, decision=decision, usage=resp.usage, response_text=resp.content)
        await gw.send_json(send, 200, out, [*decision_headers(decision, ctx.request_id),
                                            (b"request-id", ctx.request_id.encode())])

    @staticmethod
    def _frames(ctx: RequestContext) -> Callable[[Stream], render.MessageFrames]:
        def make(stream: Stream) -> render.MessageFrames:
            sig = stream.ctx.signals
            return render.MessageFrames(ctx.request_id, stream.model, sig.prompt_tokens_est if sig else 0)

        return make

    async def send_error(self, send: Send, err: SmallfirstError, request_id: str,
                         extra: list[tuple[bytes, bytes]] | None = None) -> None:
        """An Anthropic-shaped error (``request-id`` as Anthropic sends it): the SDK maps the status to its
        exception type; ``x-should-retry`` / ``retry-after`` as on the OpenAI route."""
        headers = error_headers(err, request_id)
        if request_id:
            headers.append((b"request-id", request_id.encode()))
        await self.gw.send_json(send, err.status, orjson.dumps(render.error_body(err, request_id)),
                                headers + (extra or []))
