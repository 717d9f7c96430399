"""`smallfirst report residency`: where sensitive requests went, from the request log alone.

It certifies the requests the detector flagged, and says so: the basis (entity types covered, NER,
measured recall) is printed with the statement, and unflagged requests that left the host are counted
by tier, not certified (``--check`` ignores them).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from smallfirst.config.loader import load


def evidence_for(config: Path | None, log: Path | None, since: str | None, until: str | None) -> dict[str, Any]:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from smallfirst.cli.logstore import open_store
    from smallfirst.dashboard.residency import Evidence, iter_log
    from smallfirst.dashboard.views import time_range
    from smallfirst.sensitivity.evidence import eval_results

    start, end, _ = time_range(since, until, None)
    settings = load(config)
    store = open_store(settings, log)
    ev = Evidence(start, end)
    try:
        with Progress(SpinnerColumn(), TextColumn("reading the request log: {task.completed:,} rows"),
                      TimeElapsedColumn(), transient=True) as progress:
            task = progress.add_task("log", total=None)
            for r in iter_log(store, start, end):
                ev.add(r)
                if ev.requests % 2000 == 0:
                    progress.update(task, completed=ev.requests)
    finally:
        store.close()
    return ev.result(settings.residency, eval_results())


def print_evidence(e: Mapping[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from smallfirst.dashboard.residency_html import (
        CLASS_HEAD,
        ENTITY_HEAD,
        LEFT_HEAD,
        REDACTED_HEAD,
        SERVED_HEAD,
        UNFLAGGED_HEAD,
        class_rows,
        entity_rows,
        left_rows,
        outcome_line,
        redacted_rows,
        served_rows,
        unflagged_rows,
    )

    con = Console()
    con.print(f"[bold]smallfirst residency evidence[/]  {e['range']['since']} → {e['range']['until']}")
    style = "bold red" if e["left_host_unredacted"] or e["unverified"] else \
        "bold yellow" if e["left_host_redacted"] else "bold green"
    con.print(f"[{style}]{e['statement']}[/]")
    if e.get("basis"):
        con.print(f"Basis: {e['basis']['statement']}", style="dim", markup=False, highlight=False)
    con.print(f"{e['sensitive_requests']:,} of {e['requests']:,} logged requests were sensitive: {outcome_line(e)}")
    con.print(f"Unflagged: {e['unflagged']['statement']}", markup=False, highlight=False)
    for title, head, rows in (("By data class", CLASS_HEAD, class_rows(e)), ("By entity type", ENTITY_HEAD,
                                                                             entity_rows(e)),
                              ("Served by", SERVED_HEAD, served_rows(e)),
                              ("Masked before leaving this host", REDACTED_HEAD, redacted_rows(e)),
                              ("Requests that left this host", LEFT_HEAD, left_rows(e)),
                              ("Unflagged requests that left this host (counted, not certified)", UNFLAGGED_HEAD,
                               unflagged_rows(e))):
        if not rows:
            continue
        t = Table(title=title, title_justify="left")
        for h in head:
            t.add_column(h)
        for row in rows:
            t.add_row(*row)
        con.print(t)


def residency(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="smallfirst.toml path")] = None,
    log: Annotated[Path | None, typer.Option(help="SQLite request log (default: log.path / log.url from config)")
                   ] = None,
    since: Annotated[str | None, typer.Option(help="start: 2026-05-01, ISO 8601, epoch seconds or 7d (default 24h)")
                     ] = None,
    until: Annotated[str | None, typer.Option(help="end (default now)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the evidence JSON (the admin API's) to stdout "
                                          "instead of the tables")] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the evidence JSON to this file")] = None,
    html: Annotated[Path | None, typer.Option(help="write a standalone HTML page")] = None,
    check: Annotated[bool, typer.Option("--check", help="exit 1 when any sensitive request left this host "
                                                        "unredacted or cannot be verified. Certifies flagged "
                                                        "traffic only: unflagged requests that left the host "
                                                        "are counted, not certified")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="with --check: exit 1 on redacted egress too")] = False,
) -> None:
    """Sensitive requests by data class and entity type, where they were served, and how many left this host.

    The evidence covers the requests the detector flagged: the report states its basis (the entity types
    the configured detector covers, whether NER is on, the recall measured on the bundled evaluation set)
    and counts, by tier, the unflagged requests that left this host. --check certifies flagged traffic
    only: unflagged egress is counted, not certified.
    """
    e = evidence_for(config, log, since, until)
    if json_out:
        typer.echo(orjson.dumps(e, option=orjson.OPT_INDENT_2).decode())
    else:
        print_evidence(e)
    if out is not None:
        out.write_bytes(orjson.dumps(e, option=orjson.OPT_INDENT_2))
        typer.echo(f"wrote {out}", err=json_out)
    if html is not None:
        from smallfirst.dashboard.residency_html import render_residency_html

        html.write_text(render_residency_html(e), encoding="utf-8")
        typer.echo(f"wrote {html}", err=json_out)
    if check:
        typer.echo("--check certifies flagged traffic only: unflagged requests that left this host are counted, "
                   "not certified")
        if e["left_host_unredacted"] or e["unverified"] or (strict and e["left_host"]):
            raise typer.Exit(1)
