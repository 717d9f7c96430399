"""Ollama's native API: ``/api/chat`` (NDJSON streaming or one JSON object), ``/api/tags``,
``/api/ps`` and ``/api/show`` for health, loaded models and context size.

Requests arrive in the OpenAI shape and are mapped here: ``max_tokens`` → ``options.num_predict``,
``temperature``/``top_p``/``seed``/``stop`` → options, ``response_format`` → ``format`` (a JSON
schema or ``"json"``), the endpoint's ``n_ctx`` → ``options.num_ctx`` and ``keep_alive`` → ``keep_alive``
(the OpenAI-compatible ``/v1`` API takes neither), tools pass through (Ollama takes the OpenAI tool shape),
tool results are linked to their call by name. Usage comes from ``prompt_eval_count`` / ``eval_count``.

Contents: text parts are joined by newlines into ``content`` (null → ``""``), images go into the
message's ``images`` list as raw base64 (Ollama takes no links: an ``https://`` image is a clear 400,
:class:`~smallfirst.backends.errors.UnsupportedContentError`), ``cache_control`` is dropped.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import replace
from typing import Any

import orjson

from smallfirst.backends._http import HttpClient
from smallfirst.backends.errors import ErrorContext, UnsupportedContentError, message_error, unsupported_content
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.content import data_url, flatten, image_url, is_image, tools_without_cache_control
from smallfirst.core.errors import ConfigError, StreamInterruptedError, UpstreamBadRequestError, UpstreamError
from smallfirst.core.protocols import Backend
from smallfirst.core.types import Capabilities, ChatChunk, ChatRequest, ChatResponse, Usage

DEFAULT_URL = "http://127.0.0.1:11434"
DEFAULT_NUM_CTX = 4096  # Ollama's default context when neither the model nor the request sets num_ctx
START_HINT = "start Ollama with `ollama serve` and pull the model with `ollama pull <model>`"
_OPTION_KEYS = {"temperature": "temperature", "top_p": "top_p", "seed": "seed",
                "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty"}


def _arguments(raw: Any) -> Any:
    """OpenAI tool-call arguments are a JSON string; Ollama wants an object."""
    if isinstance(raw, str):
        try:
            return orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            raise UpstreamBadRequestError(f"tool call arguments are not valid JSON: {raw[:80]!r}",
                                          hint="send arguments as a JSON object string") from None
    return raw if raw is not None else {}


def _image(part: Mapping[str, Any], where: str, ctx: ErrorContext | None) -> str:
    url = image_url(part)
    parsed = data_url(url)
    if parsed is not None:
        return parsed.data
    what = (f"{where} is an image link ({url[:60]}), and Ollama's API takes image bytes only (it does not "
            "fetch links)" if not url.startswith("data:") else f"{where} is a data: URL that is not base64")
    hint = "send the image inline as data:image/png;base64,<bytes>, or send it to a tier that fetches links"
    raise unsupported_content(ctx, what, hint) if ctx else UnsupportedContentError(what, hint=hint)


def to_ollama_messages(messages: list[dict[str, Any]], ctx: ErrorContext | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for i, m in enumerate(messages):
        role = "system" if m.get("role") == "developer" else str(m.get("role", "user"))
        content = m.get("content")
        msg: dict[str, Any] = {"role": role, "content": flatten(content)}
        if isinstance(content, list):
            images = [_image(p, f"messages[{i}].content[{j}]", ctx) for j, p in enumerate(content) if is_image(p)]
            if images:
                msg["images"] = images
        if role == "assistant" and m.get("tool_calls"):
            msg["tool_calls"] = []
            for call in m["tool_calls"]:
                fn = call.get("function", {})
                call_names[str(call.get("id", ""))] = str(fn.get("name", ""))
                msg["tool_calls"].append({"function": {"name": fn.get("name"),
                                                       "arguments": _arguments(fn.get("arguments"))}})
        if role == "tool":
            name = m.get("name") or call_names.get(str(m.get("tool_call_id", "")))
            if name:
                msg["tool_name"] = name
        out.append(msg)
    return out


def _logprobs(raw: Any) -> dict[str, Any] | None:
    """Ollama's ``logprobs`` list (token, logprob, bytes, top_logprobs) in the OpenAI shape."""
    if not isinstance(raw, list):
        return None
    return {"content": [{"token": e.get("token", ""), "logprob": e.get("logprob", 0.0),
                         "bytes": e.get("bytes"), "top_logprobs": e.get("top_logprobs") or []}
                        for e in raw if isinstance(e, dict)]}


def _tool_calls(raw: Any, *, with_index: bool = False) -> list[dict[str, Any]]:
    calls = []
    for i, c in enumerate(raw or []):
        fn = c.get("function", {})
        call: dict[str, Any] = {"id": c.get("id") or f"call_{i}", "type": "function",
                                "function": {"name": fn.get("name", ""),
                                             "arguments": orjson.dumps(fn.get("arguments") or {}).decode()}}
        if with_index:
            call["index"] = int(fn.get("index", i))
        calls.append(call)
    return calls


def _finish(data: Mapping[str, Any], had_tool_calls: bool) -> str:
    if had_tool_calls:
        return "tool_calls"
    return "length" if data.get("done_reason") == "length" else "stop"


def _usage(data: Mapping[str, Any]) -> Usage:
    return Usage(int(data.get("prompt_eval_count") or 0), int(data.get("eval_count") or 0))


class OllamaBackend(Backend):
    """One model served by Ollama, spoken to in its native API."""

    def __init__(self, cfg: EndpointConfig) -> None:
        if not cfg.model:
            raise ConfigError(f"endpoint {cfg.label!r}: backend 'ollama_native' needs model",
                              hint='add the Ollama model name, e.g. model = "llama3.2:3b"')
        self.cfg = cfg
        self.name = cfg.label
        self.model = cfg.model
        base = (cfg.base_url or DEFAULT_URL).rstrip("/")
        self.base_url = base.removesuffix("/v1")  # the native API lives at the root, not under /v1
        key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
        headers = {"User-Agent": "smallfirst", **cfg.headers}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._ctx = ErrorContext(self.name, self.base_url, cfg.timeout_s, cfg.api_key_env, START_HINT,
                                 (key,) if key else ())
        self._http = HttpClient(self.base_url, headers, self._ctx, timeout_s=cfg.timeout_s,
                                connect_timeout_s=cfg.connect_timeout_s, lean=cfg.http_client == "auto")
        self._caps = Capabilities(context_window=cfg.context_window or cfg.n_ctx or DEFAULT_NUM_CTX,
                                  json_schema=True, tools=True, logprobs=True)

    def __repr__(self) -> str:
        return f"OllamaBackend(name={self.name!r}, model={self.model!r}, base_url={self.base_url!r})"

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def _learn(self, facts: dict[str, Any]) -> None:
        """Refine the capability profile from what ``/api/show`` reported (config still wins)."""
        ctx = self.cfg.context_window or self.cfg.n_ctx or facts.get("context_window") or DEFAULT_NUM_CTX
        self._caps = replace(self._caps, context_window=ctx, tools=bool(facts.get("tools", True)),
                             images=bool(facts.get("images", self._caps.images)))

    def payload(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body = request.body
        out: dict[str, Any] = {"model": self.model, "messages": to_ollama_messages(request.messages, self._ctx),
                               "stream": stream}
        options: dict[str, Any] = {}
        for src, dst in _OPTION_KEYS.items():
            if body.get(src) is not None:
                options[dst] = body[src]
        if request.temperature is not None:
            options["temperature"] = request.temperature
        max_tokens = request.max_tokens or body.get("max_completion_tokens") or body.get("max_tokens")
        if max_tokens is not None:
            options["num_predict"] = int(max_tokens)
        stop = body.get("stop")
        if stop:
            options["stop"] = [stop] if isinstance(stop, str) else list(stop)
        if self.cfg.n_ctx:
            options["num_ctx"] = self.cfg.n_ctx
        if options:
            out["options"] = options
        if self.cfg.keep_alive is not None:  # how long the model stays loaded after this request
            out["keep_alive"] = keep_alive_value(self.cfg.keep_alive)
        fmt = request.response_format or body.get("response_format")
        if isinstance(fmt, Mapping):
            if fmt.get("type") == "json_schema":
                out["format"] = (fmt.get("json_schema") or {}).get("schema", {})
            elif fmt.get("type") == "json_object":
                out["format"] = "json"
        tools = request.tools or body.get("tools")
        if tools and body.get("tool_choice") != "none":
            out["tools"] = tools_without_cache_control(tools)
        if request.logprobs or body.get("logprobs"):
            out["logprobs"] = True
            if body.get("top_logprobs"):
                out["top_logprobs"] = int(body["top_logprobs"])
        return out

    async def complete(self, request: ChatRequest) -> ChatResponse:
        data = await self._http.post_json("/api/chat", self.payload(request, False))
        if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
            raise self._ctx.bad_shape("no message in the /api/chat answer")
        msg = data["message"]
        calls = _tool_calls(msg.get("tool_calls"))
        message: dict[str, Any] = {"role": "assistant", "content": msg.get("content") or ("" if not calls else None)}
        if calls:
            message["tool_calls"] = calls
        return ChatResponse(model=str(data.get("model") or self.model), message=message,
                            finish_reason=_finish(data, bool(calls)), usage=_usage(data),
                            id=f"ollama-{data.get('created_at', '')}", logprobs=_logprobs(data.get("logprobs")))

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        first, had_calls = True, False
        async with aclosing(self._http.lines("/api/chat", self.payload(request, True))) as lines:
            async for line in lines:
                if not line.strip():
                    continue
                try:
                    data = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise self._ctx.bad_shape(f"NDJSON line is not JSON: {line[:80]!r}") from None
                if "error" in data:
                    err = message_error(self._ctx, str(data["error"]))
                    raise err if first else StreamInterruptedError(err.message, hint=err.hint)
                msg = data.get("message") or {}
                delta: dict[str, Any] = {"role": "assistant"} if first else {}
                if msg.get("content"):
                    delta["content"] = msg["content"]
                if msg.get("tool_calls"):
                    delta["tool_calls"] = _tool_calls(msg["tool_calls"], with_index=True)
                    had_calls = True
                lp = _logprobs(data.get("logprobs"))
                if data.get("done"):
                    yield ChatChunk(delta=delta, finish_reason=_finish(data, had_calls), usage=_usage(data),
                                    logprobs=lp)
                    return
                if delta:
                    first = False
                    yield ChatChunk(delta=delta, logprobs=lp)
        raise self._ctx.incomplete_stream()

    async def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {"endpoint": self.name, "url": self.base_url, "model": self.model}
        t0 = time.perf_counter()
        try:
            tags = await self._http.get_json("/api/tags")
        except UpstreamError as err:
            return {**info, "ok": False, "error": err.message, "code": err.code, "hint": err.hint}
        names = [str(m.get("name") or m.get("model")) for m in tags.get("models") or []]
        listed = self.model in names or f"{self.model}:latest" in names
        info.update(latency_ms=round((time.perf_counter() - t0) * 1000, 2), models=names[:50], model_listed=listed)
        loaded: list[str] = []
        try:
            ps = await self._http.get_json("/api/ps")
            loaded = [str(m.get("name") or m.get("model")) for m in ps.get("models") or []]
        except UpstreamError:
            pass  # /api/ps is advisory
        info["loaded"] = loaded
        if not listed:
            return {**info, "ok": False, "error": f"model {self.model!r} is not pulled on {self.base_url}",
                    "hint": f"run `ollama pull {self.model}`"}
        try:
            show = await self._http.get_json("/api/show", method="POST", payload={"model": self.model})
        except UpstreamError as err:
            return {**info, "ok": False, "error": err.message, "code": err.code, "hint": err.hint}
        facts = _show_facts(show)
        self._learn(facts)
        info["model_context_length"] = facts.get("model_context_length")
        return {**info, "ok": True, "context_window": self.capabilities.context_window,
                "capabilities": show.get("capabilities") or []}

    async def aclose(self) -> None:
        await self._http.aclose()


def keep_alive_value(v: str | int) -> str | int:
    """Ollama's ``keep_alive`` as it parses it: a number is seconds (negative: forever), a string is a Go duration
    ("10m", "1h30m", "0"), so a plain number written as a string ("-1", "300") is sent as a number."""
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v.strip())
    return v


def _show_facts(show: Mapping[str, Any]) -> dict[str, Any]:
    """Context size and tool support from an ``/api/show`` answer.

    The usable window is the model's ``num_ctx`` parameter when it sets one, else Ollama's
    default, capped by the architecture's trained ``<arch>.context_length``.
    """
    facts: dict[str, Any] = {}
    info = show.get("model_info") or {}
    arch = info.get("general.architecture")
    trained = info.get(f"{arch}.context_length") if arch else None
    if isinstance(trained, int):
        facts["model_context_length"] = trained
    num_ctx = None
    for line in str(show.get("parameters") or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "num_ctx" and parts[1].isdigit():
            num_ctx = int(parts[1])
    window = num_ctx or DEFAULT_NUM_CTX
    facts["context_window"] = min(window, trained) if isinstance(trained, int) else window
    caps = show.get("capabilities")
    if isinstance(caps, list):
        facts["tools"] = "tools" in caps
        facts["images"] = "vision" in caps
    return facts


def from_config(cfg: EndpointConfig) -> Backend:
    return OllamaBackend(cfg)
