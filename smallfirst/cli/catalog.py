"""`smallfirst catalog models|hardware|prices`: the cited facts behind plan and cost."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from smallfirst.catalog import load_catalog
from smallfirst.cli.app import new_app

app = new_app(no_args_is_help=True, help="List the catalog: open models, hardware profiles, API prices.")
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON (with every source)")]


def _emit(rows: list[dict[str, Any]], table: Table, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(rows))
    else:
        Console().print(table)


@app.command()
def models(as_json: JsonOpt = False) -> None:
    """Open models: parameters, architecture, licence, Ollama tag and size."""
    cat = load_catalog()
    t = Table(title="Open models", header_style="bold")
    for col in ("id", "params B", "layers", "kv heads", "max ctx", "licence", "ollama tag", "GB", "quant"):
        t.add_column(col, no_wrap=col in ("id", "ollama tag"))
    for m in cat.models:
        t.add_row(m.id, f"{m.params_b:g}", str(m.layers or "–"), str(m.kv_heads or "–"),
                  f"{m.max_context:,}" if m.max_context else "–", m.license or "?", m.ollama_tag,
                  f"{m.ollama_size_gb:g}", m.ollama_quant or "?")
    _emit([{**asdict(m), "sources": dict(m.sources)} for m in cat.models], t, as_json)


@app.command()
def hardware(as_json: JsonOpt = False) -> None:
    """Hardware profiles usable with `smallfirst plan --hardware ID`."""
    cat = load_catalog()
    t = Table(title="Hardware profiles", header_style="bold")
    for col in ("id", "name", "kind", "memory GB", "GB/s", "price $", "source"):
        t.add_column(col, no_wrap=col == "id", overflow="fold")
    for h in cat.hardware:
        t.add_row(h.id, h.name, h.kind, f"{h.max_memory_gb:g}" if h.max_memory_gb else "–",
                  f"{h.bandwidth_gbps:g}" if h.bandwidth_gbps else "–", f"{h.price_usd:,.0f}" if h.price_usd else "–",
                  h.source[:60])
    _emit([{**asdict(h), "sources": dict(h.sources)} for h in cat.hardware], t, as_json)


@app.command()
def prices(as_json: JsonOpt = False) -> None:
    """API prices, USD per million tokens."""
    cat = load_catalog()
    t = Table(title="API prices (USD / 1M tokens)", header_style="bold")
    for col in ("id", "vendor", "input", "output", "cached in", "as of"):
        t.add_column(col, no_wrap=col == "id")
    for p in cat.prices:
        t.add_row(p.id, p.vendor, f"{p.input_per_mtok:g}", f"{p.output_per_mtok:g}",
                  f"{p.cached_input_per_mtok:g}" if p.cached_input_per_mtok is not None else "–", p.as_of)
    _emit([asdict(p) for p in cat.prices], t, as_json)
