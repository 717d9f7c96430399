"""`smallfirst serve`: run the gateway on uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smallfirst.config.loader import load


def serve(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="smallfirst.toml path")] = None,
    host: Annotated[str | None, typer.Option(help="bind address (default from config: 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default from config: 8080)")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "warning",
) -> None:
    """Serve the OpenAI-compatible API (/v1/chat/completions, /v1/models, /healthz)."""
    import uvicorn

    from smallfirst.config.location import describe
    from smallfirst.server.app import create_app

    settings = load(config)
    app = create_app(settings)
    h = host or settings.server.host
    p = port if port is not None else settings.server.port
    typer.echo(f"smallfirst gateway on http://{h}:{p}/v1  tiers: {', '.join(settings.tier_names)}  "
               f"log: {settings.log.path}")
    lines, warnings = describe(settings)  # where each endpoint is, and why
    for line in lines:
        typer.echo(f"  {line}")
    for w in warnings:
        typer.echo(f"warning: {w}", err=True)
    for tier, ep in app.engine.endpoints():
        if ep.price is None:
            typer.echo(f"warning: no price known for {ep.backend.name} (tier {tier.name}): its cost is logged as 0; "
                       "set price_input_per_mtok / price_output_per_mtok on the endpoint", err=True)
    uvicorn.run(app, host=h, port=p, log_level=log_level, access_log=False, loop="auto", http="auto",
                timeout_graceful_shutdown=settings.server.shutdown_timeout_s, lifespan="on",
                proxy_headers=False, server_header=False)  # the gateway reads no client address
