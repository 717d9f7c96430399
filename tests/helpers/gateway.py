"""Run an ASGI app on a real HTTP server on 127.0.0.1 (ephemeral port) in a background thread: the lean
server ``smallfirst serve`` runs by default (smallfirst.server.lean), or uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn

from smallfirst.server.lean import LeanServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running(app: Any, *, lifespan: Literal["auto", "on", "off"] = "on",
            server_kind: Literal["lean", "uvicorn"] = "lean") -> Iterator[str]:
    """Yield the base URL (``http://127.0.0.1:PORT``); stops the server (graceful) on exit."""
    port = free_port()
    server: Any
    if server_kind == "lean":
        server = LeanServer(app, host="127.0.0.1", port=port, lifespan=lifespan, graceful_timeout_s=10)
    else:
        cfg = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False,
                             lifespan=lifespan, timeout_graceful_shutdown=10)
        server = uvicorn.Server(cfg)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{server_kind} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
