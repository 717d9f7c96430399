"""Anthropic Messages API backend (``POST /v1/messages``, SSE streaming), OpenAI shape in and out.

Headers: ``x-api-key`` (from the env var named by ``api_key_env``, default ``ANTHROPIC_API_KEY``)
and ``anthropic-version``. The translation itself lives in :mod:`smallfirst.backends.anthropic_map`.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from typing import Any

import orjson

from smallfirst.backends._http import HttpClient
from smallfirst.backends.anthropic_map import StreamTranslator, from_anthropic, to_anthropic
from smallfirst.backends.errors import ErrorContext, anthropic_event_error
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.errors import ConfigError, StreamInterruptedError, UpstreamAuthError, UpstreamError
from smallfirst.core.protocols import Backend
from smallfirst.core.types import Capabilities, ChatChunk, ChatRequest, ChatResponse

DEFAULT_URL = "https://api.anthropic.com"
DEFAULT_KEY_ENV = "ANTHROPIC_API_KEY"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # the Messages API requires max_tokens; OpenAI clients often omit it
DEFAULT_CONTEXT = 200_000


class AnthropicBackend(Backend):
    """One Claude model behind the Messages API."""

    def __init__(self, cfg: EndpointConfig) -> None:
        if not cfg.model:
            raise ConfigError(f"endpoint {cfg.label!r}: backend 'anthropic' needs model",
                              hint='add the model id, e.g. model = "claude-haiku-4-5"')
        self.cfg = cfg
        self.name = cfg.label
        self.model = cfg.model
        self.base_url = (cfg.base_url or DEFAULT_URL).rstrip("/")
        self._prefix = "" if self.base_url.endswith("/v1") else "/v1"
        key_env = cfg.api_key_env or DEFAULT_KEY_ENV
        key = os.environ.get(key_env)
        self._missing_key = None if key else key_env
        headers = {"anthropic-version": API_VERSION, "User-Agent": "smallfirst", **cfg.headers}
        if key:
            headers["x-api-key"] = key
        self._ctx = ErrorContext(self.name, self.base_url, cfg.timeout_s, key_env,
                                 "check https://status.anthropic.com and your network", (key,) if key else ())
        self._http = HttpClient(self.base_url, headers, self._ctx, timeout_s=cfg.timeout_s,
                                connect_timeout_s=cfg.connect_timeout_s, lean=cfg.http_client == "auto")
        self._caps = Capabilities(context_window=cfg.context_window or DEFAULT_CONTEXT, json_schema=True,
                                  tools=True, named_tools=True, logprobs=False, images=True)

    def __repr__(self) -> str:
        return f"AnthropicBackend(name={self.name!r}, model={self.model!r}, base_url={self.base_url!r})"

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def _check_key(self) -> None:
        if self._missing_key:
            raise UpstreamAuthError(f"{self.name}: no API key: the environment variable {self._missing_key} "
                                    "is not set", hint=f"export {self._missing_key}=... before starting")

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self._check_key()
        body, mode = to_anthropic(request, self.model, stream=False, default_max_tokens=DEFAULT_MAX_TOKENS)
        data = await self._http.post_json(self._prefix + "/messages", body)
        if not isinstance(data, dict) or data.get("type") == "error":
            err = data.get("error") if isinstance(data, dict) else None
            if isinstance(err, dict):
                raise anthropic_event_error(self._ctx, err)
            raise self._ctx.bad_shape("the answer is not a message")
        return from_anthropic(data, mode)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self._check_key()
        body, mode = to_anthropic(request, self.model, stream=True, default_max_tokens=DEFAULT_MAX_TOKENS)
        state = StreamTranslator(mode)
        yielded = False
        async with aclosing(self._http.sse(self._prefix + "/messages", body)) as events:
            async for data in events:
                try:
                    event = orjson.loads(data)
                except orjson.JSONDecodeError:
                    raise self._ctx.bad_shape(f"SSE data is not JSON: {data[:80]!r}") from None
                if event.get("type") == "error":
                    err = anthropic_event_error(self._ctx, event.get("error") or {})
                    raise StreamInterruptedError(err.message, hint=err.hint) if yielded else err
                chunk = state.feed(event)
                if chunk is not None:
                    yielded = True
                    yield chunk
                if state.finished:
                    return
        raise self._ctx.incomplete_stream()

    async def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {"endpoint": self.name, "url": self.base_url, "model": self.model}
        if self._missing_key:
            return {**info, "ok": False, "error": f"environment variable {self._missing_key} is not set"}
        t0 = time.perf_counter()
        try:
            data = await self._http.get_json(self._prefix + "/models")
        except UpstreamError as err:
            return {**info, "ok": False, "error": err.message, "code": err.code, "hint": err.hint}
        entries = [m for m in (data.get("data") or []) if isinstance(m, dict)]
        ids = [str(m.get("id")) for m in entries]
        mine = next((m for m in entries if m.get("id") == self.model), {})
        listed_ctx = mine.get("max_input_tokens")
        if isinstance(listed_ctx, int) and listed_ctx > 0 and not self.cfg.context_window:
            self._caps = replace(self._caps, context_window=listed_ctx)
        return {**info, "ok": True, "latency_ms": round((time.perf_counter() - t0) * 1000, 2),
                "model_listed": self.model in ids, "models": ids[:50],
                "context_window": self._caps.context_window}

    async def aclose(self) -> None:
        await self._http.aclose()


def from_config(cfg: EndpointConfig) -> Backend:
    return AnthropicBackend(cfg)
