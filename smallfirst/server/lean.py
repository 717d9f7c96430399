"""The lean HTTP/1.1 server ``smallfirst serve`` runs by default (``[server] http = "lean"``).

It runs an ASGI app on :mod:`smallfirst.server.http11` connections, on uvloop when it is installed, with
the parts of uvicorn's behaviour the gateway relies on:

* the ASGI lifespan: a failed startup means no listening and ``started`` stays False
  (``lifespan="auto"`` serves an app without one);
* ``started`` / ``should_exit`` / ``force_exit`` for a supervisor (``smallfirst.server.workers``);
* SIGINT/SIGTERM: stop accepting, close idle keep-alive connections, let running requests finish for up
  to ``graceful_timeout_s``, then cancel them (the gateway answers those 503 ``shutting_down``), run the
  lifespan shutdown, and re-raise the signal so the exit status says how the process stopped; a second
  SIGINT stops at once.

``[server] http = "uvicorn"`` runs uvicorn instead. Why this exists: per request, uvicorn's protocol
(header validation, its cycle and flow-control objects) cost about as much as the gateway's routing
decision; this server writes a JSON answer in one ``write`` and a stream's chunks without per-chunk
bookkeeping (figures: README, Performance).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
from email.utils import formatdate
from typing import Any, Literal

from smallfirst.server.http11 import App, HttpProtocol, ServerState

log = logging.getLogger("smallfirst.server")
TICK_S = 0.1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Lifespan:
    """Drives the app's ``lifespan`` scope: startup before listening, shutdown after draining."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._startup: asyncio.Future[str] | None = None
        self._shutdown: asyncio.Future[str] | None = None
        self._task: asyncio.Task[None] | None = None
        self.error: Exception | None = None  # what the app raised on the lifespan scope before starting

    async def startup(self) -> str:
        """"ok", "failed" (the app said so), or "unsupported" (the app raised on the lifespan scope)."""
        loop = asyncio.get_running_loop()
        self._startup, self._shutdown = loop.create_future(), loop.create_future()
        self._task = loop.create_task(self._main())
        await self._inbox.put({"type": "lifespan.startup"})
        return await self._startup

    async def shutdown(self) -> None:
        if self._task is None or self._task.done() or self._shutdown is None:
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        await self._shutdown

    async def _main(self) -> None:
        try:
            await self.app({"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}},
                           self._inbox.get, self._send)
        except Exception as err:
            if self._startup is not None and not self._startup.done():
                self.error = err
                self._startup.set_result("unsupported")
            else:
                log.exception("the app's lifespan failed")
        finally:
            for f in (self._startup, self._shutdown):
                if f is not None and not f.done():
                    f.set_result("failed")

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind.startswith("lifespan.startup.") and self._startup is not None and not self._startup.done():
            if kind.endswith(".failed"):
                log.error("the app did not start: %s", message.get("message", ""))
            self._startup.set_result("ok" if kind.endswith(".complete") else "failed")
        elif kind.startswith("lifespan.shutdown.") and self._shutdown is not None and not self._shutdown.done():
            self._shutdown.set_result("ok" if kind.endswith(".complete") else "failed")


class LeanServer:
    """``run()`` blocks until stopped (a signal, or ``should_exit`` set from another thread)."""

    def __init__(self, app: App, *, host: str = "127.0.0.1", port: int = 8000,
                 lifespan: Literal["on", "auto", "off"] = "on",
                 graceful_timeout_s: float = 30.0, keep_alive_s: float = 5.0, backlog: int = 2048) -> None:
        self.app, self.host, self.port = app, host, port
        self.lifespan = lifespan
        self.graceful_timeout_s = graceful_timeout_s
        self.backlog = backlog
        self.state = ServerState(keep_alive_s)
        self.started = False
        self.should_exit = False
        self.force_exit = False
        self._signals: list[int] = []
        self._raised: BaseException | None = None  # what a Python signal handler raised (see _on_loop_error)

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        main = threading.current_thread() is threading.main_thread()
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS} if main else {}
        try:
            try:
                import uvloop
            except ImportError:  # pragma: no cover - uvloop is a dependency; plain asyncio works too
                asyncio.run(self.serve(sockets))
            else:
                uvloop.run(self.serve(sockets))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self._raised is not None:
            raised, self._raised = self._raised, None
            raise raised
        for caught in reversed(self._signals):  # as uvicorn does: the process then ends as the signal asked
            signal.raise_signal(caught)

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        life = Lifespan(self.app) if self.lifespan != "off" else None
        if life is not None:
            started = await life.startup()
            if started == "unsupported" and self.lifespan == "auto":
                life = None
            elif started != "ok":
                if life.error is not None:
                    log.error("the app raised on the lifespan scope", exc_info=life.error)
                return
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._on_loop_error)
        state = self.state
        self._tick()

        def factory() -> HttpProtocol:
            return HttpProtocol(self.app, state, loop)

        if sockets:
            servers = [await loop.create_server(factory, sock=s, backlog=self.backlog) for s in sockets]
        else:
            servers = [await loop.create_server(factory, host=self.host, port=self.port, backlog=self.backlog,
                                                reuse_address=True)]
        self.started = True
        try:
            while not self.should_exit:
                await asyncio.sleep(TICK_S)
                self._tick()
        finally:
            await self._drain(servers)
            if life is not None:
                await life.shutdown()

    async def _drain(self, servers: list[asyncio.Server]) -> None:
        state = self.state
        state.closing = True
        for s in servers:
            s.close()
        for conn in list(state.connections):
            if conn.idle():
                conn.close()
        deadline = asyncio.get_running_loop().time() + self.graceful_timeout_s
        while state.tasks and not self.force_exit and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(TICK_S)
            self._tick()
        for task in list(state.tasks):
            task.cancel()
        if state.tasks:
            await asyncio.wait(list(state.tasks), timeout=5.0)
        for conn in list(state.connections):
            conn.close()
        await asyncio.sleep(0)  # let the transports run their connection_lost

    def _tick(self) -> None:
        self.state.date = b"date: " + formatdate(usegmt=True).encode() + b"\r\n"

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """An exception no task, future or connection owns stops the server and is raised from ``run()``.

        uvloop runs Python signal handlers as loop callbacks and only logs what they raise; a handler that
        raises to interrupt (pytest-timeout's SIGALRM, a user's own) must stop the server as it would stop
        plain Python code, not be swallowed while the server runs on.
        """
        err = context.get("exception")
        owned = any(key in context for key in ("task", "future", "transport", "protocol"))
        if isinstance(err, BaseException) and not owned and self._raised is None:
            self._raised = err
            self.should_exit = self.force_exit = True
            return
        loop.default_exception_handler(context)

    def _on_signal(self, sig: int, frame: Any = None) -> None:
        if self.should_exit and sig == signal.SIGINT:  # a second Ctrl-C: stop without waiting
            self.force_exit = True
        self._signals.append(sig)
        self.should_exit = True
