"""`smallfirst keys create|list|revoke`: gateway API keys, stored hashed next to the request log.

The keys live in the SQLite file at ``log.path`` — or, when the config says ``[access] shared =
true``, in the PostgreSQL database of ``log.url`` that every replica reads. Changes reach running
gateways within ``[access] refresh_ms`` (they watch a revision counter).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from smallfirst.access.keys import Limits
from smallfirst.access.keystore import KeyStore
from smallfirst.access.limits import utc_day
from smallfirst.access.shared import open_keystore
from smallfirst.cli.app import new_app
from smallfirst.config.loader import load
from smallfirst.core.errors import BadRequestError
from smallfirst.core.suggest import hint_for

app = new_app(no_args_is_help=True, help="Create, list and revoke gateway API keys.")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="smallfirst.toml (its log.path holds "
                                                                         "the keys; with [access] shared = true, "
                                                                         "its log.url)")]
DbOpt = Annotated[Path | None, typer.Option("--db", help="a SQLite file directly (default: from the config)")]


def _open(config: Path | None, db: Path | None) -> tuple[KeyStore, tuple[str, ...]]:
    settings = load(config)
    return open_keystore(settings, str(db) if db is not None else None), settings.tier_names


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="who or what the key is for (shown in listings)")],
    budget_day: Annotated[float | None, typer.Option(min=0, help="USD per UTC day")] = None,
    budget_month: Annotated[float | None, typer.Option(min=0, help="USD per UTC month")] = None,
    rpm: Annotated[int | None, typer.Option(min=1, help="requests per minute")] = None,
    tpm: Annotated[int | None, typer.Option(min=1, help="tokens (prompt + completion) per minute")] = None,
    tiers: Annotated[str | None, typer.Option(help="comma-separated tiers the key may use (default: all)")] = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Create a key and print it once (only its SHA-256 is stored)."""
    store, names = _open(config, db)
    allowed = None
    if tiers is not None:
        allowed = tuple(t.strip() for t in tiers.split(",") if t.strip())
        unknown = [t for t in allowed if t not in names]
        if unknown or not allowed:
            store.close()
            raise BadRequestError(f"unknown tier(s) {', '.join(unknown) or '(none given)'}",
                                  hint=hint_for(unknown, names, f"the config's tiers are: {', '.join(names)}"))
    try:
        key, info = store.create(name, Limits(budget_day, budget_month, rpm, tpm, allowed))
    finally:
        store.close()
    typer.echo(f"created {info.id} ({name}): {info.limits.describe()}")
    typer.echo(key)
    typer.echo("store it now: it is not shown again", err=True)


@app.command("list")
def list_keys(
    all_keys: Annotated[bool, typer.Option("--all", help="include revoked keys")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """List keys with their limits and spend (today and this month, UTC)."""
    from rich.console import Console
    from rich.table import Table

    store, _ = _open(config, db)
    day = utc_day(time.time())
    try:
        keys = store.keys(include_revoked=all_keys)
        usage = store.usage(day, day[:7])
    finally:
        store.close()
    rows = []
    for k in keys:
        today, month, n = usage.get(k.id, (0.0, 0.0, 0))
        rows.append({"id": k.id, "name": k.name, "prefix": k.prefix + "…", "revoked": k.revoked is not None,
                     "created": time.strftime("%Y-%m-%d %H:%M", time.gmtime(k.created)),
                     "limits": k.limits.describe(), "usd_today": round(today, 6), "usd_month": round(month, 6),
                     "requests_month": n})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "name", "key", "created (UTC)", "limits", "USD today", "USD month", "requests", "status")
    for r in rows:
        table.add_row(str(r["id"]), str(r["name"]), str(r["prefix"]), str(r["created"]), str(r["limits"]),
                      f"{r['usd_today']:.4f}", f"{r['usd_month']:.4f}", str(r["requests_month"]),
                      "revoked" if r["revoked"] else "active")
    Console().print(table)


@app.command()
def revoke(
    ident: Annotated[str, typer.Argument(help="key id (key_…) or its name")],
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Revoke a key; a running gateway refuses it within [access] refresh_ms."""
    store, _ = _open(config, db)
    try:
        info = store.revoke(ident)
    finally:
        store.close()
    typer.echo(f"revoked {info.id} ({info.name})")
