"""`smallfirst cache stats|clear`: the response cache's SQLite file (``[cache] path``, default beside log.path).

Works whether or not ``[cache] enabled`` is set (a disabled cache may still hold entries) and while gateways
run: the file is shared safely (WAL), and a cleared entry is gone for every worker at once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from smallfirst.cli.app import new_app
from smallfirst.config.loader import load

if TYPE_CHECKING:
    from smallfirst.cache import CacheStore

app = new_app(no_args_is_help=True, help="Show or clear the response cache.")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="smallfirst.toml (its [cache] path, "
                                                                         "else beside its log.path)")]


def _open(config: Path | None) -> tuple[CacheStore, str]:
    from smallfirst.cache import cache_path, open_store

    settings = load(config)
    return open_store(settings), cache_path(settings)


@app.command()
def stats(config: ConfigOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="one JSON object on stdout")] = False) -> None:
    """Entries, bytes, hits and the USD they saved (since each entry was written)."""
    store, path = _open(config)
    try:
        s = {"path": path, **store.stats(time.time())}
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(s))
        return
    typer.echo(f"{path}: {s['entries']:,} entries ({s['bytes']:,} bytes; {s['expired']:,} expired, "
               f"{s['sensitive']:,} sensitive, {s['with_vector']:,} with a vector) for {s['tenants']:,} tenant(s)")
    typer.echo(f"{s['hits']:,} hits on them, saving {s['saved_usd']:.6f} USD")


@app.command()
def clear(config: ConfigOpt = None,
          tenant: Annotated[str | None, typer.Option(help="only this tenant's entries: a gateway key id, '-' "
                                                          "for requests without a key, or tenant:<name> for "
                                                          "[cache] tenant")] = None,
          yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False) -> None:
    """Delete cached answers (all of them, or one tenant's)."""
    store, path = _open(config)
    try:
        if not yes and not typer.confirm(f"delete {'every' if tenant is None else tenant + chr(39) + 's'} cached "
                                         f"answer in {path}?"):
            raise typer.Abort()
        n = store.clear(tenant)
    finally:
        store.close()
    typer.echo(f"deleted {n:,} entr{'y' if n == 1 else 'ies'} from {path}")
