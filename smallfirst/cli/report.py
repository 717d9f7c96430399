"""`smallfirst report`: the dashboard's numbers in the terminal, and as a standalone HTML file / PNG / JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from smallfirst.cli.app import new_app
from smallfirst.cli.logstore import open_store
from smallfirst.cli.report_residency import residency
from smallfirst.config.loader import load
from smallfirst.config.schema import Settings

app = new_app(help="Tier mix vs target, cost and savings, latency, escalations and residency from the "
                       "request log.", invoke_without_command=True, no_args_is_help=False)
app.command("residency")(residency)


def overview_for(settings: Settings, log: Path | None, since: str | None, until: str | None, bucket: str | None,
                 baseline: str | None) -> dict[str, Any]:
    from smallfirst.dashboard.views import overview, time_range, view_from_settings

    start, end, b = time_range(since, until, bucket)
    view = view_from_settings(settings, baseline)
    store = open_store(settings, log)
    try:
        return overview(store.summary(since=start, until=end, bucket_s=b), view)
    finally:
        store.close()


def print_overview(o: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from smallfirst.dashboard.report_html import TIER_HEAD, kpis, tier_rows

    con = Console()
    con.print(f"[bold]smallfirst report[/]  {o['range']['since']} → {o['range']['until']}")
    k = Table(show_header=False, box=None)
    for name, v in kpis(o):
        k.add_row(f"[dim]{name}[/]", v)
    con.print(k)
    t = Table(title="Tiers", title_justify="left")
    for i, h in enumerate(TIER_HEAD):
        t.add_column(h, justify="left" if i == 0 else "right")
    for row in tier_rows(o):
        t.add_row(*row)
    con.print(t)
    if o["escalations"]["reasons"]:
        e = Table(title="Escalation reasons", title_justify="left")
        for h in ("step", "reason", "requests"):
            e.add_column(h, justify="right" if h == "requests" else "left")
        for r in o["escalations"]["reasons"]:
            e.add_row(r["step"], r["reason"], f"{r['count']:,}")
        con.print(e)
    if o["task_types"]:
        tt = Table(title="Top task types", title_justify="left")
        for h in ("task type", "requests", "by tier"):
            tt.add_column(h, justify="right" if h == "requests" else "left")
        for x in o["task_types"]:
            tt.add_row(x["task_type"], f"{x['count']:,}", ", ".join(f"{a} {n}" for a, n in x["by_tier"].items()))
        con.print(tt)


@app.callback()
def report(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="smallfirst.toml path")] = None,
    log: Annotated[Path | None, typer.Option(help="SQLite request log (default: log.path / log.url from config)")
                   ] = None,
    since: Annotated[str | None, typer.Option(help="start: 24h, 7d, ISO 8601 or epoch seconds (default 24h)")
                     ] = None,
    until: Annotated[str | None, typer.Option(help="end (default now)")] = None,
    bucket: Annotated[str | None, typer.Option(help="seconds per time bucket (default: at most 150 points)")] = None,
    baseline: Annotated[str | None, typer.Option(help="price the all-frontier baseline as this catalog model")
                        ] = None,
    html: Annotated[Path | None, typer.Option(help="write a standalone HTML report (inline SVG plots)")] = None,
    png: Annotated[Path | None, typer.Option(help="write the four plots as one PNG")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the overview JSON (the admin API's) to stdout "
                                          "instead of the tables")] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the overview JSON to this file")] = None,
) -> None:
    """Print the overview; optionally write HTML, PNG and JSON."""
    if ctx.invoked_subcommand is not None:
        return
    o = overview_for(load(config), log, since, until, bucket, baseline)
    if json_out:
        typer.echo(orjson.dumps(o, option=orjson.OPT_INDENT_2).decode())
    else:
        print_overview(o)
    if out is not None:
        out.write_bytes(orjson.dumps(o, option=orjson.OPT_INDENT_2))
        typer.echo(f"wrote {out}", err=json_out)
    if html is not None or png is not None:
        from smallfirst.dashboard.report_html import render_html, save_png

        if html is not None:
            html.write_text(render_html(o), encoding="utf-8")
            typer.echo(f"wrote {html}", err=json_out)
        if png is not None:
            typer.echo(f"wrote {save_png(o, png)}", err=json_out)
