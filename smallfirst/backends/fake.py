"""A deterministic in-process **fake** backend, shipped for demos and tests. It is not a model.

It answers ``"echo: <last user message>"`` (or a fixed ``reply``), a small schema-valid instance
for ``response_format`` json_schema, a call of the first offered tool when tools are given, and
log-probabilities when asked. Behaviour is set in the endpoint's ``model`` string, query-style::

    model = "echo"                                      # instant echo
    model = "echo?latency_ms=40&chunk_ms=5"             # 40 ms before the first token, 5 ms per token
    model = "echo?reply=positive&context_window=512"    # fixed answer; prompts over 512 tokens fail
    model = "echo?fail=unavailable"                     # every call raises (see FAILURES)
    model = "echo?fail=stream_cut"                      # streams one chunk, then the "connection" drops

Tokens are whitespace-separated words; prompt tokens are estimated as characters / 4.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

import orjson

from smallfirst.config.schema import EndpointConfig
from smallfirst.core.errors import (
    ConfigError,
    ContextWindowExceededError,
    StreamInterruptedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from smallfirst.core.protocols import Backend
from smallfirst.core.types import Capabilities, ChatChunk, ChatRequest, ChatResponse, Usage

FAILURES: dict[str, Callable[[str], UpstreamError]] = {
    "timeout": lambda n: UpstreamTimeoutError(f"{n}: fake timeout", hint="the fake backend was told to fail"),
    "unavailable": lambda n: UpstreamUnavailableError(f"{n}: fake outage", hint="the fake backend was told to fail"),
    "rate_limit": lambda n: UpstreamRateLimitError(f"{n}: fake rate limit", hint="the fake backend was told to "
                                                   "fail", retry_after_s=1.0),
    "auth": lambda n: UpstreamAuthError(f"{n}: fake auth failure", hint="the fake backend was told to fail"),
    "bad_request": lambda n: UpstreamBadRequestError(f"{n}: fake bad request", hint="the fake backend was told "
                                                     "to fail"),
    "error": lambda n: UpstreamError(f"{n}: fake internal error", hint="the fake backend was told to fail"),
}
STREAM_FAILURES = ("stream_cut",)
_KNOWN = {"latency_ms", "chunk_ms", "reply", "fail", "context_window", "logprob"}


def schema_example(schema: Any) -> Any:
    """A small deterministic instance of a JSON schema (enum → first value, objects → all properties)."""
    if not isinstance(schema, Mapping):
        return None
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return schema_example(schema[key][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return {k: schema_example(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [schema_example(schema.get("items", {})) for _ in range(int(schema.get("minItems", 1)))]
    return {"string": "text", "integer": 0, "number": 0.0, "boolean": False, "null": None}.get(str(kind), "text")


def _last_user(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            if isinstance(c, list):
                return " ".join(str(p.get("text", "")) for p in c if isinstance(p, dict) and p.get("type") == "text")
    return ""


class FakeBackend(Backend):
    """Deterministic answers with configurable latency and failures; see the module docstring."""

    def __init__(self, cfg: EndpointConfig) -> None:
        spec = cfg.model or "echo"
        base, _, query = spec.partition("?")
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        unknown = set(params) - _KNOWN
        if unknown:
            raise ConfigError(f"endpoint {cfg.label!r}: unknown fake option(s) {sorted(unknown)}",
                              hint=f"the fake backend understands: {', '.join(sorted(_KNOWN))}")
        fail = params.get("fail")
        if fail is not None and fail not in FAILURES and fail not in STREAM_FAILURES:
            raise ConfigError(f"endpoint {cfg.label!r}: unknown fake failure {fail!r}",
                              hint=f"choose one of: {', '.join([*FAILURES, *STREAM_FAILURES])}")
        try:
            self.latency_s = float(params.get("latency_ms", 0)) / 1000
            self.chunk_s = float(params.get("chunk_ms", 0)) / 1000
            window = int(params["context_window"]) if "context_window" in params else None
            self.logprob = float(params.get("logprob", -0.1))
        except ValueError as err:
            raise ConfigError(f"endpoint {cfg.label!r}: bad fake option value ({err})",
                              hint="latency_ms/chunk_ms/logprob are numbers, context_window an integer") from None
        self.cfg = cfg
        self.name = cfg.label
        self.model = base or "echo"
        self.reply = params.get("reply")
        self.fail = fail
        self._caps = Capabilities(context_window=cfg.context_window or window or 8192, json_schema=True,
                                  tools=True, logprobs=True)

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def _answer(self, request: ChatRequest) -> tuple[str | None, list[dict[str, Any]], str, Usage]:
        """(content, tool_calls, finish_reason, usage)."""
        prompt_tokens = max(1, math.ceil(len(request.text()) / 4))
        window = self._caps.context_window
        if window is not None and prompt_tokens > window:
            raise ContextWindowExceededError(
                f"{self.name}: the prompt has about {prompt_tokens} tokens; the context window is {window}",
                hint="use a tier with a larger context window, or shorten the prompt")
        body = request.body
        tools = request.tools or body.get("tools") or []
        fmt = request.response_format or body.get("response_format") or {}
        if tools and body.get("tool_choice") != "none":
            fn = tools[0].get("function", {})
            args = orjson.dumps(schema_example(fn.get("parameters") or {})).decode()
            calls = [{"id": "call_fake_0", "type": "function", "function": {"name": fn.get("name", ""),
                                                                             "arguments": args}}]
            return None, calls, "tool_calls", Usage(prompt_tokens, max(1, len(args) // 4))
        if fmt.get("type") == "json_schema":
            text = orjson.dumps(schema_example((fmt.get("json_schema") or {}).get("schema") or {})).decode()
        elif fmt.get("type") == "json_object":
            text = orjson.dumps({"echo": _last_user(request.messages)}).decode()
        else:
            text = self.reply if self.reply is not None else f"echo: {_last_user(request.messages)}"
        words = text.split(" ")
        limit = request.max_tokens or body.get("max_completion_tokens") or body.get("max_tokens")
        finish = "stop"
        if limit is not None and len(words) > int(limit):
            words, finish = words[: int(limit)], "length"
        return " ".join(words), [], finish, Usage(prompt_tokens, len(words))

    def _logprobs(self, pieces: list[str]) -> dict[str, Any]:
        return {"content": [{"token": p, "logprob": self.logprob, "bytes": list(p.encode()), "top_logprobs": []}
                            for p in pieces]}

    async def complete(self, request: ChatRequest) -> ChatResponse:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.fail in FAILURES:
            raise FAILURES[self.fail](self.name)
        content, calls, finish, usage = self._answer(request)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = calls
        wants_lp = request.logprobs or bool(request.body.get("logprobs"))
        lp = self._logprobs(_pieces(content)) if wants_lp and content else None
        return ChatResponse(model=self.model, message=message, finish_reason=finish, usage=usage,
                            id="fake-0", logprobs=lp)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.fail in FAILURES:
            raise FAILURES[self.fail](self.name)
        content, calls, finish, usage = self._answer(request)
        wants_lp = request.logprobs or bool(request.body.get("logprobs"))
        yield ChatChunk(delta={"role": "assistant", "content": ""})
        if self.fail == "stream_cut":
            raise StreamInterruptedError(f"{self.name}: fake stream cut", hint="the fake backend was told to fail")
        if calls:
            yield ChatChunk(delta={"tool_calls": [{"index": 0, **calls[0]}]})
        for i, piece in enumerate(_pieces(content)):
            if self.chunk_s and i:
                await asyncio.sleep(self.chunk_s)
            yield ChatChunk(delta={"content": piece}, logprobs=self._logprobs([piece]) if wants_lp else None)
        yield ChatChunk(delta={}, finish_reason=finish, usage=usage)

    async def health(self) -> dict[str, Any]:
        return {"ok": self.fail not in FAILURES, "endpoint": self.name, "model": self.model, "fake": True,
                "context_window": self._caps.context_window}

    async def aclose(self) -> None:
        return None


def _pieces(content: str | None) -> list[str]:
    """Stream pieces: each word with its following space (joined they give the content back)."""
    if not content:
        return []
    words = content.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]]


def from_config(cfg: EndpointConfig) -> Backend:
    return FakeBackend(cfg)
