"""``POST /v1/messages/count_tokens``: Anthropic's token count of a Messages request, ``{"input_tokens": n}``.

The body is a Messages request without ``max_tokens`` (validated as ``/v1/messages`` validates one). The
model it names is resolved as a chat request's is (aliases, ``smallfirst/<tier>``, a configured model);
``smallfirst/auto`` counts for the first tier of the chain, where the router starts by default.

* When that tier's first endpoint runs its model in this process (the embedded llama.cpp backend), the
  count is exact for it: the messages (and tools) rendered as that backend renders them
  (:mod:`smallfirst.backends.llama_render`, then the model's own chat template), tokenized by the model's
  tokenizer (loaded vocabulary-only, once per model file, apart from the serving model so a
  count never waits for a generation). A promoted fine-tune is counted with its base model's tokenizer.
* Otherwise the count is an estimate: about 4 characters per token over the message text and the tool
  definitions (``smallfirst.signals.extract.CHARS_PER_TOKEN``, the ratio the routing signals use).

A count calls no model, so it is neither admitted against rate limits nor written to the request log;
the gateway's API key is required as on every model route.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from smallfirst.access.gate import Access
from smallfirst.core.errors import BadRequestError, ModelNotFoundError, SmallfirstError, UpstreamError
from smallfirst.core.text import content_text
from smallfirst.core.tiers import Endpoint, Tier
from smallfirst.core.types import AUTO_MODEL, MODEL_PREFIX, ChatRequest
from smallfirst.server.asgi import Receive, Scope, Send, read_body, send_json
from smallfirst.server.headers import error_headers
from smallfirst.signals.extract import CHARS_PER_TOKEN
from smallfirst.wire.anthropic_parse import to_openai
from smallfirst.wire.anthropic_render import error_body
from smallfirst.wire.openai_parse import parse_json, to_request

PATH = "/v1/messages/count_tokens"


def to_chat_request(body: dict[str, Any]) -> ChatRequest:
    """The internal request for a count_tokens body (a Messages body; ``max_tokens`` is not needed)."""
    if "stream" in body:
        raise BadRequestError("stream: not accepted by count_tokens", param="stream")
    return to_request(to_openai({**body, "max_tokens": body.get("max_tokens") or 1}))


def endpoint_for(model: str, tiers: Sequence[Tier]) -> Endpoint:
    """The endpoint a count is made for: the named tier's or model's, or the first tier's for auto."""
    if model == AUTO_MODEL:
        return tiers[0].endpoints[0]
    for t in tiers:
        if model == MODEL_PREFIX + t.name:
            return t.endpoints[0]
    for t in tiers:
        for e in t.endpoints:
            if model in (e.backend.model, e.backend.name):
                return e
    known = [AUTO_MODEL, *(MODEL_PREFIX + t.name for t in tiers)]
    raise ModelNotFoundError(f"model {model!r} is not served here", param="model",
                             hint=f"use one of: {', '.join(known)} (GET /v1/models lists all)")


def estimate(request: ChatRequest) -> int:
    chars = sum(len(content_text(m.get("content"))) for m in request.messages)
    if request.tools:
        chars += len(orjson.dumps(request.tools))
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _model_file(endpoint: Endpoint) -> Path | None:
    """The GGUF an in-process endpoint serves (its backend under the resilience / redaction wrappers)."""
    if not endpoint.capabilities.in_process:
        return None
    from smallfirst.backends.embedded import EmbeddedBackend

    backend: Any = endpoint.backend
    while not isinstance(backend, EmbeddedBackend) and getattr(backend, "inner", None) is not None:
        backend = backend.inner
    return backend.model_path if isinstance(backend, EmbeddedBackend) else None


class Tokenizers:
    """Vocabulary-only llama.cpp models and chat templates, one per GGUF file, loaded on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[Path, tuple[Any, Any, bool]] = {}

    def _get(self, path: Path) -> tuple[Any, Any, bool]:
        with self._lock:
            if path not in self._loaded:
                import llama_cpp
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                vocab = llama_cpp.Llama(model_path=str(path), vocab_only=True, n_ctx=64, verbose=False)
                template = vocab.metadata.get("tokenizer.chat_template") or ""
                fmt = Jinja2ChatFormatter(template=template, eos_token="", bos_token="") if template else None
                self._loaded[path] = (vocab, fmt, "tool_calls" in template)
            return self._loaded[path]

    def count(self, path: Path, request: ChatRequest) -> int:
        """The prompt exactly as the embedded backend renders it (smallfirst.backends.llama_render), tokenized."""
        from smallfirst.backends.llama_render import calls_as_text, llama_kwargs

        vocab, fmt, template_calls = self._get(path)
        kw = llama_kwargs(request)
        messages = kw["messages"]
        if not template_calls and any(m.get("tool_calls") for m in messages):
            messages = calls_as_text(messages)
        if fmt is not None:
            text = fmt(messages=messages, tools=kw.get("tools")).prompt
        else:
            text = "\n".join(str(m.get("content") or "") for m in messages)
        with self._lock:  # llama.cpp objects are not thread-safe
            return len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True))


class CountTokens:
    """The route's ASGI handler."""

    def __init__(self, tiers: Sequence[Tier], access: Access, max_body: int, resolve: Any) -> None:
        self.tiers = tiers
        self.access = access
        self.max_body = max_body
        self.resolve = resolve  # model name → route (config's [aliases]); identity when none
        self.tokenizers = Tokenizers()

    async def count(self, body: dict[str, Any]) -> int:
        request = to_chat_request(body)
        endpoint = endpoint_for(self.resolve(request.model), self.tiers)
        path = _model_file(endpoint)
        if path is None:
            return estimate(request)
        try:
            return await asyncio.to_thread(self.tokenizers.count, path, request)
        except Exception as exc:  # llama.cpp raises plain exceptions (unreadable file, template error)
            raise UpstreamError(f"could not count with the tokenizer of {path.name}: {type(exc).__name__}: {exc}",
                                hint="check the model file; /healthz shows whether the tier loads") from exc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self.access.authenticate(scope["headers"])
            body = parse_json(await read_body(scope, receive, self.max_body))
            n = await self.count(body)
        except SmallfirstError as err:
            await send_json(send, err.status, orjson.dumps(error_body(err)), error_headers(err, ""))
            return
        await send_json(send, 200, orjson.dumps({"input_tokens": n}), [])
