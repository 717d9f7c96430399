"""Shared machinery for the protocol-faithful fake servers (aiohttp.web on 127.0.0.1, ephemeral port).

Usage, in a test on the same event loop::

    async with FakeOpenAI() as srv:            # srv.base_url -> "http://127.0.0.1:PORT/v1"
        srv.inject(Fault(status=429, retry_after="2"))
        ...
        assert srv.requests[-1].body["model"] == "m"

or from synchronous code (e.g. a gateway test driving the official SDK)::

    with FakeOpenAI().in_thread() as srv:
        ...

Fault injection: ``inject(Fault(...))`` queues a fault; each request to a model endpoint takes the
first queued fault (a fault with ``times=N`` serves N requests, ``times=0`` serves all of them).
Control-plane routes (model listings, health) are never faulted.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web


@dataclass
class Fault:
    """One injected upstream misbehaviour.

    status       answer with this HTTP status and the vendor's error body (message/code below)
    retry_after  value of the ``Retry-After`` header (use with status=429)
    message      error message (default: a vendor-typical one for the status)
    code         vendor error code/type (e.g. "context_length_exceeded")
    delay_s      sleep before the first byte (headers included): "timeout before first byte"
    drop         close the connection without answering at all
    cut_after    streaming: send this many events/lines, then cut the TCP connection
    drip_s       streaming: sleep this long between events ("slow drip")
    error_after  streaming: after this many events send the vendor's in-stream error event, then end
    times        how many requests this fault serves; 0 = every request until cleared
    """

    status: int | None = None
    retry_after: str | None = None
    message: str | None = None
    code: str | None = None
    delay_s: float = 0.0
    drop: bool = False
    cut_after: int | None = None
    drip_s: float = 0.0
    error_after: int | None = None
    times: int = 1


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Answer:
    """What the fake model says: plain text, or tool calls."""

    text: str
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (name, arguments)
    truncated: bool = False  # cut at max_tokens

    @property
    def words(self) -> list[str]:
        """Streaming pieces: each word with its following space (joined they give ``text``)."""
        parts = self.text.split(" ")
        return [p + " " for p in parts[:-1]] + [parts[-1]] if self.text else []


def schema_example(schema: Any) -> Any:
    """A small deterministic instance of a JSON schema (enum → first value, objects → all properties)."""
    if not isinstance(schema, dict):
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
        return {k: schema_example(v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [schema_example(schema.get("items", {}))] * int(schema.get("minItems", 1))
    return {"string": "x", "integer": 1, "number": 1.5, "boolean": True, "null": None}.get(str(kind), "x")


def text_of(content: Any) -> str:
    """Text of an OpenAI/Anthropic/Ollama message content (string or list of parts/blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # text parts/blocks, and the text of tool results
        return " ".join(text_of(p.get("text", p.get("content"))) for p in content
                        if isinstance(p, dict) and ("text" in p or p.get("type") == "tool_result"))
    return ""


def estimate_tokens(texts: list[str]) -> int:
    """The fakes' tokenizer: whitespace words, at least one token per message."""
    return sum(max(1, len(t.split())) for t in texts)


class FakeServer:
    """Base: lifecycle, request recording and the fault queue. Subclasses add routes."""

    default_model = "fake-model"

    def __init__(self, *, model: str | None = None, reply: str | None = None,
                 context_window: int | None = None, api_key: str | None = None) -> None:
        self.model = model or self.default_model
        self.reply = reply  # fixed answer text; default: "echo: <last user message>"
        self.context_window = context_window  # prompt tokens above this → the vendor's overflow error
        self.api_key = api_key  # when set, requests must carry it
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- API for tests ---------------------------------------------------------------------

    def inject(self, *faults: Fault) -> Self:
        self.faults.extend(faults)
        return self

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What a client puts in ``base_url`` (protocol-specific; the root by default)."""
        return self.url

    # --- lifecycle -------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def start(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextmanager
    def in_thread(self) -> Iterator[Self]:
        """Run the server on its own event loop in a daemon thread (for synchronous tests)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        thread = threading.Thread(target=self._serve_forever, args=(loop, ready), daemon=True)
        thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake server did not start")
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    def _serve_forever(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self.start())
        ready.set()
        loop.run_forever()

    # --- helpers for subclasses ------------------------------------------------------------

    async def record(self, request: web.Request) -> Recorded:
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        rec = Recorded(request.method, request.path, dict(request.headers), body)
        self.requests.append(rec)
        return rec

    def take_fault(self) -> Fault | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        if fault.times != 0:
            fault.times -= 1
            if fault.times == 0:
                self.faults.pop(0)
        return fault

    @staticmethod
    async def before_first_byte(request: web.Request, fault: Fault | None) -> bool:
        """Apply delay/drop; True when the connection was dropped (the handler must stop)."""
        if fault is None:
            return False
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.drop:
            cut(request)
            return True
        return False

    def answer(self, last_user: str, max_tokens: int | None,
               tools: list[tuple[str, dict[str, Any]]] | None = None) -> Answer:
        """The deterministic answer: tool calls when asked for, else the fixed reply or an echo."""
        if tools:
            return Answer("", tool_calls=[(name, schema_example(params)) for name, params in tools])
        text = self.reply if self.reply is not None else f"echo: {last_user}"
        words = text.split(" ")
        if max_tokens is not None and len(words) > max_tokens:
            return Answer(" ".join(words[:max_tokens]), truncated=True)
        return Answer(text)


def cut(request: web.Request) -> None:
    """Cut the TCP connection abruptly (no HTTP terminator is sent)."""
    transport = request.transport
    if transport is not None:
        transport.abort()


async def write_stream(request: web.Request, response: web.StreamResponse, pieces: list[bytes],
                       fault: Fault | None, error_piece: bytes = b"") -> web.StreamResponse:
    """Write stream pieces honouring drip/cut/in-stream-error faults."""
    await response.prepare(request)
    for sent, piece in enumerate(pieces):
        if fault is not None and fault.cut_after is not None and sent >= fault.cut_after:
            cut(request)
            return response
        if fault is not None and fault.error_after is not None and sent >= fault.error_after:
            await response.write(error_piece)
            break
        if fault is not None and fault.drip_s and sent:
            await asyncio.sleep(fault.drip_s)
        await response.write(piece)
    await response.write_eof()
    return response
