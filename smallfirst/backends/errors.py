"""The one place where wire errors become :mod:`smallfirst.core.errors` upstream errors.

Inputs are HTTP statuses with vendor error bodies (OpenAI, llama.cpp, vLLM, Ollama, Anthropic,
Gemini), aiohttp transport exceptions, in-stream error events and llama-cpp-python exceptions.
Every error names the endpoint and carries a fix hint. API keys never appear in a message: the
context scrubs the configured secret and anything shaped like a key from vendor text.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson

from smallfirst.backends._raw_http import BadResponse, PayloadCut, ServerDisconnected
from smallfirst.core.errors import (
    ContextWindowExceededError,
    StreamInterruptedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

CONTEXT_PHRASES = (
    "context_length_exceeded",  # OpenAI / llama-cpp-python / vLLM error code
    "maximum context length",  # OpenAI, vLLM, llama-cpp-python server
    "context window",  # llama-cpp-python ("exceed context window of N")
    "context size",  # llama.cpp server ("exceeds the available context size")
    "context length",  # Ollama ("input length exceeds the context length")
    "prompt is too long",  # Anthropic ("prompt is too long: 201234 tokens > 200000 maximum")
    "exceeds the maximum number of tokens",  # Gemini
    "too many tokens",
)
_KEYISH = re.compile(r"\b(sk-ant-|sk-or-|sk-|AIza)[A-Za-z0-9_\-*.]{6,}")
_MAX_DETAIL = 300


def is_context_overflow(message: str, code: str | None = None) -> bool:
    """True when a vendor message/code says the prompt does not fit the context window."""
    text = f"{code or ''} {message}".lower()
    return any(p in text for p in CONTEXT_PHRASES)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("Retry-After") or headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _detail(body: bytes) -> tuple[str, str | None]:
    """(message, code-or-type) from any vendor's error body."""
    try:
        data: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return text[:_MAX_DETAIL], None
    if isinstance(data, list) and data:
        data = data[0]  # Gemini sometimes wraps the error in a list
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, str):
            return err, None
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or data.get("detail") or ""
            code = err.get("code") or err.get("type") or err.get("status")
            return str(msg), (str(code) if code is not None else None)
        if "detail" in data:
            return str(data["detail"]), None
    return (str(data)[:_MAX_DETAIL] if data is not None else ""), None


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What an error needs to know about the endpoint it came from. Built once per backend."""

    endpoint: str
    url: str
    timeout_s: float
    key_env: str | None = None
    start_hint: str = "check that the server is running and reachable"
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def scrub(self, text: str) -> str:
        for s in self.secrets:
            if s:
                text = text.replace(s, "***")
        return _KEYISH.sub(lambda m: m.group(1) + "***", text)

    def _msg(self, what: str) -> str:
        return self.scrub(f"{self.endpoint}: {what}")

    # --- HTTP status + body ---------------------------------------------------------------

    def from_status(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> UpstreamError:
        message, code = _detail(body)
        return self.from_vendor(status, message, code, headers or {})

    def from_vendor(self, status: int, message: str, code: str | None,
                    headers: Mapping[str, str] | None = None) -> UpstreamError:
        """Map a status (or a vendor error type translated to one) and its message to an error."""
        what = f"upstream returned HTTP {status}" + (f": {message}" if message else "")
        msg = self._msg(what)
        if status in (400, 413, 422) and is_context_overflow(message, code):
            return ContextWindowExceededError(
                msg, hint="use a tier with a larger context window, shorten the prompt, or raise "
                          "n_ctx / context_window for this endpoint")
        if status in (401, 403):
            hint = (f"check the API key in the environment variable {self.key_env}" if self.key_env
                    else "this endpoint needs an API key: set api_key_env in its config")
            return UpstreamAuthError(msg, hint=hint)
        if status == 429:
            retry = parse_retry_after(headers or {})
            quota = "quota" in message.lower() or code == "insufficient_quota"
            hint = ("the account's quota or credit is exhausted: add billing, or route to another tier"
                    if quota else "the upstream is rate-limiting this key: slow down, raise the limit, "
                                  "or add another endpoint to the tier")
            if retry is not None:
                hint += f" (retry after {retry:g} s)"
            return UpstreamRateLimitError(msg, hint=hint, retry_after_s=retry)
        if status == 404:
            return UpstreamError(msg, hint=f"model or path not found at {self.url}: check `model` and "
                                           "`base_url` (and that the model is pulled/loaded)")
        if status in (408, 504):
            return UpstreamTimeoutError(msg, hint="the upstream timed out: retry, or raise its timeout")
        if status in (502, 503, 529):
            return UpstreamUnavailableError(msg, hint="the upstream is overloaded or restarting: retry "
                                                      "later, or let the tier fall back")
        if status >= 500:
            return UpstreamError(msg, hint="the upstream failed internally: retry, or let the tier fall back")
        return UpstreamBadRequestError(msg, hint="the upstream rejected the request: check the model name "
                                                 "and the request options it supports")

    # --- transport ------------------------------------------------------------------------

    def from_exception(self, exc: BaseException, *, streamed: bool = False) -> UpstreamError:
        """Translate an aiohttp/OS/JSON exception. ``streamed``: chunks were already yielded."""
        err = self._transport(exc)
        if streamed and not isinstance(err, StreamInterruptedError):
            return StreamInterruptedError(err.message, hint=err.hint)
        return err

    def _transport(self, exc: BaseException) -> UpstreamError:
        if isinstance(exc, UpstreamError):
            return exc
        if isinstance(exc, asyncio.TimeoutError | TimeoutError):
            return UpstreamTimeoutError(
                self._msg(f"no response from {self.url} within {self.timeout_s:g} s"),
                hint="raise timeout_s for this endpoint, or check the server's load")
        if isinstance(exc, aiohttp.ClientResponseError):
            return self.from_vendor(exc.status, exc.message, None, exc.headers or {})
        if isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError):
            return UpstreamUnavailableError(self._msg(f"cannot connect to {self.url}"), hint=self.start_hint)
        if isinstance(exc, BadResponse):
            return UpstreamError(self._msg(str(exc)), hint="is base_url an HTTP server of the configured kind?")
        if isinstance(exc, aiohttp.ServerDisconnectedError | ServerDisconnected):
            return UpstreamUnavailableError(self._msg("the server closed the connection before answering"),
                                            hint=self.start_hint)
        if isinstance(exc, aiohttp.ClientPayloadError | PayloadCut):
            return StreamInterruptedError(self._msg("the connection was cut before the response ended"),
                                          hint="the upstream dropped the connection: retry, or check its logs")
        if isinstance(exc, orjson.JSONDecodeError | UnicodeDecodeError):
            return UpstreamError(self._msg(f"the upstream sent a body that is not valid JSON ({exc})"),
                                 hint="check that base_url points at the API root of the right protocol")
        if isinstance(exc, aiohttp.ClientError | OSError):
            return UpstreamUnavailableError(self._msg(f"{type(exc).__name__}: {exc}"), hint=self.start_hint)
        return UpstreamError(self._msg(f"{type(exc).__name__}: {exc}"), hint="see the upstream's logs")

    def incomplete_stream(self) -> StreamInterruptedError:
        return StreamInterruptedError(self._msg("the stream ended before its final chunk"),
                                      hint="the upstream dropped the connection: retry, or check its logs")

    def bad_shape(self, what: str) -> UpstreamError:
        return UpstreamError(self._msg(f"unexpected response shape: {what}"),
                             hint="check that base_url points at a server speaking this protocol")


# --- vendor error types that arrive without a useful HTTP status (in-stream events) ------------

ANTHROPIC_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "gateway_timeout_error": 504,
    "overloaded_error": 529,
}


def anthropic_event_error(ctx: ErrorContext, error: Mapping[str, Any]) -> UpstreamError:
    """An Anthropic ``{"type": "error", "error": {type, message}}`` object (HTTP body or SSE event)."""
    etype = str(error.get("type", "api_error"))
    return ctx.from_vendor(ANTHROPIC_ERROR_STATUS.get(etype, 500), str(error.get("message", "")), etype)


def message_error(ctx: ErrorContext, message: str) -> UpstreamError:
    """A bare error string (Ollama NDJSON ``{"error": ...}`` lines, llama-cpp-python exceptions)."""
    lower = message.lower()
    if is_context_overflow(message):
        return ctx.from_vendor(400, message, None)
    if "not found" in lower:
        return ctx.from_vendor(404, message, None)
    if "unauthorized" in lower or "api key" in lower:
        return ctx.from_vendor(401, message, None)
    return ctx.from_vendor(500, message, None)


class UnsupportedContentError(UpstreamBadRequestError):
    """The request carries content this endpoint's protocol or model cannot take (an image for a text-only
    model, an image link for a server that needs the bytes). Another endpoint may serve it."""

    code = "unsupported_content"


def unsupported_content(ctx: ErrorContext, what: str, hint: str) -> UnsupportedContentError:
    return UnsupportedContentError(ctx.scrub(f"{ctx.endpoint}: {what}"), hint=hint)


_NOT_A_STRING = ("can only concatenate str", "must be str, not", "expected str instance", "unhashable type")


def llama_error(ctx: ErrorContext, exc: BaseException) -> UpstreamError:
    """A llama-cpp-python exception raised in-process (embedded backend)."""
    if isinstance(exc, UpstreamError):
        return exc
    text = str(exc)
    if is_context_overflow(text):
        return ctx.from_vendor(400, text, None)
    if type(exc).__module__.startswith("jinja2"):  # the model's chat template refused (raise_exception) or broke
        return UpstreamBadRequestError(
            ctx.scrub(f"{ctx.endpoint}: the model's chat template rejected the conversation: {text}"),
            hint="this model's template accepts only some message orders and roles (e.g. alternating "
                 "user/assistant turns, one leading system message): reshape the messages, or use another tier")
    if isinstance(exc, TypeError) and any(p in text for p in _NOT_A_STRING):
        return UpstreamBadRequestError(
            ctx.scrub(f"{ctx.endpoint}: the model's chat template got a message field that is not a string: {text}"),
            hint="a message field the template reads (content, name, tool call arguments) is a list, an object "
                 "or null: send it as a string")
    if isinstance(exc, ValueError | TypeError):
        return UpstreamBadRequestError(ctx.scrub(f"{ctx.endpoint}: llama.cpp rejected the request: {text}"),
                                       hint="check the request options the embedded model supports")
    return UpstreamError(ctx.scrub(f"{ctx.endpoint}: llama.cpp failed: {type(exc).__name__}: {text}"),
                         hint="check the model file and available memory")
