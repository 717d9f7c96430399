"""The HTTP server a gateway process runs: lean (default) or uvicorn, as ``[server] http`` says."""

from __future__ import annotations

import socket
from typing import Any, Protocol

from smallfirst.config.schema import ServerConfig


class Server(Protocol):
    started: bool
    should_exit: bool

    def run(self, sockets: list[socket.socket] | None = None) -> None: ...


def http_server(app: Any, s: ServerConfig, *, host: str, port: int, log_level: str = "warning") -> Server:
    """A server for ``app`` on ``host:port`` (``run(sockets=[...])`` serves already-bound sockets)."""
    if s.http == "lean":
        from smallfirst.server.lean import LeanServer

        return LeanServer(app, host=host, port=port, graceful_timeout_s=s.shutdown_timeout_s,
                          keep_alive_s=s.keep_alive_s)
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, loop="auto",
                            http="auto", lifespan="on", timeout_graceful_shutdown=s.shutdown_timeout_s,
                            timeout_keep_alive=max(1, round(s.keep_alive_s)),
                            proxy_headers=False, server_header=False)  # the gateway reads no client address
    return uvicorn.Server(config)
