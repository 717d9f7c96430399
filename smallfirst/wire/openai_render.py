"""Exact OpenAI response shapes: chat.completion JSON and chat.completion.chunk SSE events."""

from __future__ import annotations

import functools
import hashlib
from typing import Any, Protocol

import orjson

from smallfirst import __version__
from smallfirst.core.errors import SmallfirstError
from smallfirst.core.types import ChatChunk, ChatResponse, Usage

DONE = b"data: [DONE]\n\n"


@functools.lru_cache(maxsize=256)
def fingerprint(model: str) -> str:
    """A stable ``system_fingerprint`` for answers whose backend sends none (local models): it changes when
    the model or the gateway's version does, as OpenAI's does when its serving configuration changes."""
    return "fp_sf_" + hashlib.sha256(f"{model}\0{__version__}".encode()).hexdigest()[:10]


def choices(resp: ChatResponse) -> list[dict[str, Any]]:
    """All the answer's choices (more than one for ``n > 1``), each with its index."""
    first: dict[str, Any] = {"index": 0, "message": resp.message, "finish_reason": resp.finish_reason,
                             "logprobs": resp.logprobs}
    rest = [{"index": i, "message": c.get("message"), "finish_reason": c.get("finish_reason") or "stop",
             "logprobs": c.get("logprobs")} for i, c in enumerate(resp.extra_choices, 1)]
    return [first, *rest]


def completion(resp: ChatResponse, request_id: str, created: int, model: str) -> bytes:
    body = {"id": resp.id or "chatcmpl-" + request_id[4:], "object": "chat.completion", "created": created,
            "model": model, "choices": choices(resp), "usage": resp.usage.to_openai(),
            "system_fingerprint": resp.system_fingerprint or fingerprint(model)}
    return orjson.dumps(body)


class StreamFrames(Protocol):
    """A wire format's stream renderer: a frame per chunk, the closing frames, a mid-stream error frame."""

    def chunk(self, c: ChatChunk) -> bytes: ...

    def tail(self, usage: Usage) -> bytes: ...

    def error(self, err: SmallfirstError) -> bytes: ...


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


class ChunkRenderer:
    """Renders ChatChunks as SSE events for one stream (the constant parts are serialised once)."""

    def __init__(self, request_id: str, created: int, model: str, include_usage: bool) -> None:
        self.id = "chatcmpl-" + request_id[4:]
        self.created = created
        self.model = model
        self.include_usage = include_usage
        self._started = False
        self.fingerprint = fingerprint(model)
        head = orjson.dumps({"id": self.id, "object": "chat.completion.chunk", "created": created, "model": model,
                             "system_fingerprint": self.fingerprint})
        self._head = b"data: " + head[:-1] + b',"choices":[{"index":0,"delta":'
        self._tail = b"}]" + (b',"usage":null' if include_usage else b"") + b"}\n\n"

    def _base(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                             "model": self.model, "system_fingerprint": self.fingerprint, "choices": choices}
        if self.include_usage:
            d["usage"] = None
        return d

    def chunk(self, c: ChatChunk) -> bytes:
        delta = c.delta
        if not self._started:
            self._started = True
            if "role" not in delta:
                delta = {"role": "assistant", **delta}
        finish = b"null" if c.finish_reason is None else orjson.dumps(c.finish_reason)
        logprobs = b"null" if c.logprobs is None else orjson.dumps(c.logprobs)
        return (self._head + orjson.dumps(delta) + b',"logprobs":' + logprobs + b',"finish_reason":' + finish
                + self._tail)

    def usage(self, usage: Usage) -> bytes:
        d = self._base([])
        d["usage"] = usage.to_openai()
        return _event(d)

    def tail(self, usage: Usage) -> bytes:
        """The usage chunk (when the client asked for it) and ``[DONE]``."""
        return (self.usage(usage) + DONE) if self.include_usage else DONE

    def error(self, err: SmallfirstError) -> bytes:
        return error_event(err)


def error_event(err: SmallfirstError) -> bytes:
    return _event(err.to_openai())
