"""`smallfirst serve`: run the gateway (lean HTTP server or uvicorn) — one process, or N workers behind one port."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from smallfirst.config.loader import load

if TYPE_CHECKING:
    from smallfirst.config.schema import Settings
    from smallfirst.server.app import Gateway


def serve(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="smallfirst.toml path")] = None,
    host: Annotated[str | None, typer.Option(help="bind address (default from config: 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default from config: 8080)")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="processes behind the port (default from config, "
                                                "else the machine's cores; 1 when a tier runs its model "
                                                "in-process)")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level ([server] http = \"uvicorn\")")] = "warning",
) -> None:
    """Serve the OpenAI-compatible API (/v1/chat/completions, /v1/models, /healthz)."""
    from smallfirst.server.app import create_app
    from smallfirst.server.factory import with_server

    settings = load(config)
    h = host or settings.server.host
    p = port if port is not None else settings.server.port
    requested = workers if workers is not None else settings.server.workers
    settings = with_server(settings, host=h, port=p, workers=1)
    app = create_app(settings)  # validates every part once, and migrates the log, before any worker starts
    in_process = [tier.name for tier, ep in app.engine.endpoints() if ep.capabilities.in_process]
    n = requested or (1 if in_process else _cores())
    if n == 1:
        _banner(settings, app, h, p, "")
        _serve_here(app, settings, h, p, log_level)
        return
    _serve_workers(settings, app, config, n, h, p, log_level, in_process)


def _cores() -> int:
    from smallfirst.server.workers import default_workers

    return default_workers()


def _banner(settings: Settings, app: Gateway, h: str, p: int, workers: str) -> None:
    from smallfirst.cli.banner import banner_lines

    typer.echo(f"smallfirst gateway on http://{h}:{p}/v1  tiers: {', '.join(settings.tier_names)}  "
               f"log: {settings.log.path}{workers}")
    lines, warnings = banner_lines(settings)  # where each endpoint is, why, and what it lacks
    for line in lines:
        typer.echo(f"  {line}")
    missing = [line for line in lines if " — missing: " in line or " — not answering" in line]
    if missing:
        typer.echo(f"warning: {len(missing)} endpoint(s) cannot answer yet (see above): requests for them fall "
                   "back along the tier chain or fail", err=True)
    for w in warnings:
        typer.echo(f"warning: {w}", err=True)
    for tier, ep in app.engine.endpoints():
        if ep.price is None:
            typer.echo(f"warning: no price known for {ep.backend.name} (tier {tier.name}): its cost is logged as 0; "
                       "set price_input_per_mtok / price_output_per_mtok on the endpoint", err=True)


def _serve_here(app: Gateway, settings: Settings, h: str, p: int, log_level: str) -> None:
    from smallfirst.server.runner import http_server

    http_server(app, settings.server, host=h, port=p, log_level=log_level).run()


def _serve_workers(settings: Settings, app: Gateway, config: Path | None, n: int, h: str, p: int, log_level: str,
                   in_process: list[str]) -> None:
    import asyncio
    import json

    from smallfirst.server import workers as sup

    asyncio.run(app.aclose())  # the supervisor serves nothing; each worker builds its own app
    release = None
    if not (settings.access.shared and settings.log.url is not None):  # limits shared through the SQLite file
        from smallfirst.access import host

        host.prepare(settings.log.path)
        path = settings.log.path

        def release(pid: int) -> None:
            host.release(path, pid)

    env = {**os.environ, "SMALLFIRST_CONFIG": str(config.resolve()) if config is not None else "",
           "SMALLFIRST_SERVER": json.dumps({"host": h, "port": p, "workers": n})}
    if in_process:
        typer.echo(f"warning: {n} workers each load the in-process model of tier(s) {', '.join(in_process)}", err=True)

    def bound(port: int) -> None:
        _banner(settings, app, h, port, f"  workers: {n}")

    try:
        code, sig = sup.supervise(n, h, p, env, shutdown_timeout_s=settings.server.shutdown_timeout_s,
                                  log_level=log_level, release=release, on_bound=bound)
    except OSError as err:  # the port is taken, or the address is not this host's
        typer.echo(f"error: cannot listen on {h}:{p}: {err.strerror or err}", err=True)
        raise typer.Exit(1) from None
    if sig is not None and code == 0:  # stopped by a signal: exit the way one uvicorn process does
        signal.signal(sig, signal.SIG_DFL)
        signal.raise_signal(sig)
    raise typer.Exit(code)
