"""`smallfirst config validate|show`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smallfirst.cli.app import new_app
from smallfirst.config.loader import load

app = new_app(no_args_is_help=True, help="Check and show smallfirst.toml.")

PathOpt = Annotated[Path | None, typer.Argument(help="config file (default ./smallfirst.toml or built-in defaults)")]


@app.command()
def validate(path: PathOpt = None,
             build: Annotated[bool, typer.Option(help="also build every backend and the router")] = False) -> None:
    """Validate the config strictly; with --build also resolve backends (no network calls). Lists where
    each endpoint is (on this host or not, and why)."""
    from smallfirst.config.describe import describe

    settings = load(path)
    if build:
        from smallfirst.pipeline import build_router, build_tiers

        build_tiers(settings)
        build_router(settings)
    tiers = " → ".join(f"{t.name}({len(t.endpoints)})" for t in settings.tiers)
    typer.echo(f"ok: {path or 'defaults'}: tiers {tiers}; router {settings.routing.router}; log {settings.log.path}")
    lines, warnings = describe(settings)
    for line in lines:
        typer.echo(f"  {line}")
    for w in warnings:
        typer.echo(f"warning: {w}", err=True)


@app.command()
def show(path: PathOpt = None) -> None:
    """Print the effective config (defaults filled in) as JSON."""
    typer.echo(load(path).model_dump_json(indent=2))
