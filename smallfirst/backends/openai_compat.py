"""OpenAI-compatible HTTP backend (OpenAI, Ollama /v1, LM Studio, llama.cpp, vLLM, OpenRouter, Gemini).

This is the gateway's hot path, so per request it does as little as possible: the client's
validated body is copied with ``model`` replaced and serialised with orjson; the answer is decoded
with orjson and picked apart by hand (no pydantic). Streaming parses SSE ``data:`` lines as they
arrive and asks upstream for ``stream_options.include_usage`` so the final chunk carries usage.
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
from smallfirst.backends.errors import ErrorContext
from smallfirst.backends.presets import Preset, preset
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.content import flatten, is_image, tools_without_cache_control, without_cache_control
from smallfirst.core.errors import ConfigError, StreamInterruptedError, UpstreamAuthError, UpstreamError
from smallfirst.core.protocols import Backend
from smallfirst.core.types import Capabilities, ChatChunk, ChatRequest, ChatResponse, Usage

_CONTEXT_KEYS = ("max_model_len", "context_length", "max_context_length", "context_window")
# metadata keys the gateway reads itself (routing and contract hints): never sent upstream
_OWN_METADATA = frozenset({"task", "smallfirst_task", "smallfirst_contract"})
_METADATA_NEEDS_STORE = frozenset({"openai"})  # OpenAI answers 400 to metadata without store: true
_NO_METADATA = frozenset({"gemini"})  # Gemini's OpenAI layer answers 400 to an unknown "metadata" field


# upstreams that take Anthropic's cache_control in the OpenAI shape (on parts, tools and top level)
_CACHE_CONTROL_OK = frozenset({"openrouter"})
# servers that render message content through the model's chat template as one string (llama-cpp-python's
# server): text parts are flattened and null content becomes "" (images are left for a vision handler)
_FLATTENS = frozenset({"llamacpp"})


def _usage(u: Any) -> Usage | None:
    if not isinstance(u, dict):
        return None
    details = u.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    read = details.get("cached_tokens") or u.get("prompt_cache_hit_tokens")  # OpenAI (Gemini, vLLM); DeepSeek
    write = details.get("cache_write_tokens")  # OpenRouter, for models that bill cache writes
    return Usage(int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0),
                 cache_read_tokens=int(read or 0), cache_write_tokens=int(write or 0))


def _flat(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for m in messages:
        c = m.get("content")
        if c is None or (isinstance(c, list) and not any(is_image(p) for p in c)):
            m = {**m, "content": flatten(c)}
        out.append(m)
    return out


def _listed_context(entry: dict[str, Any]) -> int | None:
    """Context size from a /models entry (vLLM, OpenRouter, LM Studio, llama.cpp server)."""
    for key in _CONTEXT_KEYS:
        v = entry.get(key)
        if isinstance(v, int) and v > 0:
            return v
    meta = entry.get("meta")
    if isinstance(meta, dict):
        for key in ("n_ctx", "n_ctx_train"):
            v = meta.get(key)
            if isinstance(v, int) and v > 0:
                return v
    return None


class OpenAICompatBackend(Backend):
    """One model behind an OpenAI-compatible ``/chat/completions`` API."""

    def __init__(self, cfg: EndpointConfig, p: Preset) -> None:
        base_url = cfg.base_url or p.base_url
        if not base_url:
            raise ConfigError(f"endpoint {cfg.label!r}: backend {cfg.backend!r} needs base_url",
                              hint='add e.g. base_url = "http://127.0.0.1:8080/v1" to the endpoint')
        if not cfg.model:
            raise ConfigError(f"endpoint {cfg.label!r}: backend {cfg.backend!r} needs model",
                              hint='add the upstream model id, e.g. model = "gpt-4o-mini"')
        self.cfg = cfg
        self.preset = p
        self.name = cfg.label
        self.model = cfg.model
        self.base_url = base_url.rstrip("/")
        key_env = cfg.api_key_env or p.api_key_env
        key = os.environ.get(key_env) if key_env else None
        self._missing_key = key_env if (key_env and not key and (p.key_required or cfg.api_key_env)) else None
        headers = {"User-Agent": "smallfirst", **cfg.headers}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        ctx = ErrorContext(self.name, self.base_url, cfg.timeout_s, key_env, p.start_hint,
                           (key,) if key else ())
        self._http = HttpClient(self.base_url, headers, ctx, timeout_s=cfg.timeout_s,
                                connect_timeout_s=cfg.connect_timeout_s, lean=cfg.http_client == "auto")
        self._ctx = ctx
        self._caps = replace(p.capabilities, context_window=cfg.context_window or p.capabilities.context_window)

    def __repr__(self) -> str:
        return f"OpenAICompatBackend(name={self.name!r}, model={self.model!r}, base_url={self.base_url!r})"

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def _check_key(self) -> None:
        if self._missing_key:
            raise UpstreamAuthError(f"{self.name}: no API key: the environment variable {self._missing_key} "
                                    "is not set", hint=f"export {self._missing_key}=... before starting")

    def _payload(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body = dict(request.body)
        body["model"] = self.model
        if "messages" not in body:  # a request built in code rather than from a client body
            body["messages"] = request.messages
            for key, value in (("max_tokens", request.max_tokens), ("temperature", request.temperature),
                               ("response_format", request.response_format), ("tools", request.tools)):
                if value is not None:
                    body[key] = value
            if request.logprobs:
                body["logprobs"] = True
            if isinstance(n := request.body.get("n"), int) and n > 1:
                body["n"] = n
        self._metadata(body, request)
        self._content(body)
        if self.preset.schema_as_json_object:
            fmt = body.get("response_format")
            if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
                schema = (fmt.get("json_schema") or {}).get("schema")
                body["response_format"] = {"type": "json_object", **({"schema": schema} if schema else {})}
        if stream:
            body["stream"] = True
            opts = body.get("stream_options")
            body["stream_options"] = {**opts, "include_usage": True} if isinstance(opts, dict) else {
                "include_usage": True}
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)
        return body

    def _content(self, body: dict[str, Any]) -> None:
        """Message contents in the dialect of this server (see ``_CACHE_CONTROL_OK`` and ``_FLATTENS``)."""
        messages = body.get("messages")
        if self.preset.name not in _CACHE_CONTROL_OK:
            body.pop("cache_control", None)
            if isinstance(messages, list):
                messages = without_cache_control(messages)
            if isinstance(body.get("tools"), list):
                body["tools"] = tools_without_cache_control(body["tools"])
        if self.preset.name in _FLATTENS and isinstance(messages, list):
            messages = _flat(messages)
        if messages is not None:
            body["messages"] = messages

    def _metadata(self, body: dict[str, Any], request: ChatRequest) -> None:
        """The client's ``metadata`` minus the gateway's own hints, where the upstream accepts the field."""
        meta = body.pop("metadata", None)
        if not isinstance(meta, dict):
            meta = dict(request.metadata) if "messages" not in request.body and request.metadata else None
        if meta is None or self.preset.name in _NO_METADATA:
            return
        if self.preset.name in _METADATA_NEEDS_STORE and not body.get("store"):
            return
        kept = {k: v for k, v in meta.items() if k not in _OWN_METADATA}
        if kept:
            body["metadata"] = kept

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self._check_key()
        data = await self._http.post_json("/chat/completions", self._payload(request, False))
        try:
            choice = data["choices"][0]
            message = choice["message"]
            extra = tuple(c for c in data["choices"][1:] if isinstance(c, dict) and isinstance(c.get("message"), dict))
        except (KeyError, IndexError, TypeError):
            raise self._ctx.bad_shape("no choices[0].message in the completion") from None
        fingerprint = data.get("system_fingerprint")
        return ChatResponse(
            model=data.get("model") or self.model,
            message=message,
            finish_reason=choice.get("finish_reason") or "stop",
            usage=_usage(data.get("usage")) or Usage(),
            id=data.get("id") or "",
            logprobs=choice.get("logprobs"),
            extra_choices=extra,
            system_fingerprint=fingerprint if isinstance(fingerprint, str) else None,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self._check_key()
        pending: ChatChunk | None = None  # the finish chunk, held until usage arrives
        usage: Usage | None = None
        done = yielded = False
        async with aclosing(self._http.sse("/chat/completions", self._payload(request, True))) as events:
            async for data in events:
                if data == b"[DONE]":
                    done = True
                    break
                try:
                    obj = orjson.loads(data)
                except orjson.JSONDecodeError:
                    raise self._ctx.bad_shape(f"SSE data is not JSON: {data[:80]!r}") from None
                if "error" in obj:
                    raise self._stream_error(obj, yielded)
                usage = _usage(obj.get("usage")) or usage
                choices = obj.get("choices")
                if not choices:
                    continue
                c = choices[0]
                chunk = ChatChunk(delta=c.get("delta") or {}, finish_reason=c.get("finish_reason"),
                                  logprobs=c.get("logprobs"))
                if pending is not None:
                    yielded = True
                    yield pending
                    pending = None
                if chunk.finish_reason is not None:
                    pending = chunk
                else:
                    yielded = True
                    yield chunk
        if pending is None:
            if not done:
                raise self._ctx.incomplete_stream()
            pending = ChatChunk(delta={}, finish_reason="stop")
        yield replace(pending, usage=usage) if usage is not None else pending

    def _stream_error(self, obj: dict[str, Any], yielded: bool) -> UpstreamError:
        err = obj["error"]
        code = err.get("code") if isinstance(err, dict) else None
        status = code if isinstance(code, int) and 400 <= code < 600 else 500
        translated = self._ctx.from_status(status, orjson.dumps(obj))
        if yielded:
            return StreamInterruptedError(translated.message, hint=translated.hint)
        return translated

    async def embed(self, payload: dict[str, Any]) -> Any:
        """POST an OpenAI embeddings body (``model`` is set to this endpoint's) to ``/embeddings``; the decoded
        JSON answer (:mod:`smallfirst.embeddings.http` reads it)."""
        self._check_key()
        return await self._http.post_json("/embeddings", {**payload, "model": self.model})

    async def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {"endpoint": self.name, "url": self.base_url, "model": self.model}
        if self._missing_key:
            return {**info, "ok": False, "error": f"environment variable {self._missing_key} is not set"}
        t0 = time.perf_counter()
        try:
            data = await self._http.get_json("/models")
        except UpstreamError as err:
            return {**info, "ok": False, "error": err.message, "code": err.code, "hint": err.hint}
        entries = [e for e in (data.get("data") or []) if isinstance(e, dict)] if isinstance(data, dict) else []
        ids = [str(e.get("id")) for e in entries]
        mine = next((e for e in entries if e.get("id") == self.model), None)
        listed_ctx = _listed_context(mine) if mine is not None else None
        if listed_ctx and not self.cfg.context_window:  # config wins over what the server lists
            self._caps = replace(self._caps, context_window=listed_ctx)
        return {**info, "ok": True, "latency_ms": round((time.perf_counter() - t0) * 1000, 2),
                "model_listed": mine is not None, "models": ids[:50],
                "context_window": self.capabilities.context_window}

    async def aclose(self) -> None:
        await self._http.aclose()


def from_config(cfg: EndpointConfig) -> Backend:
    return OpenAICompatBackend(cfg, preset(cfg.backend))
