"""`smallfirst` entry point: registers the verbs and turns errors into one line + exit code.

Exit codes: 0 done, 1 a failure while running, 2 a usage or config mistake, 130 interrupted.
``--debug`` (anywhere before ``--``) or ``SMALLFIRST_DEBUG=1`` lets Python print the full traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from smallfirst.cli.app import new_app
from smallfirst.cli.errors import error_exit_code, is_help_request, legacy_json_path, runtime_line, usage_line


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"smallfirst {version('smallfirst')}")
        raise typer.Exit(0)


def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="show the full traceback of an error")] = False,
) -> None:
    """SLM-first gateway: answer locally first, escalate only when needed."""


def build() -> typer.Typer:
    from smallfirst.cli import cache as cache_cli
    from smallfirst.cli import cascade as cascade_cli
    from smallfirst.cli import catalog as catalog_cli
    from smallfirst.cli import config as config_cli
    from smallfirst.cli import eval as eval_cli
    from smallfirst.cli import finetune as finetune_cli
    from smallfirst.cli import keys as keys_cli
    from smallfirst.cli import models as models_cli
    from smallfirst.cli import plan as plan_cli
    from smallfirst.cli import prompt as prompt_cli
    from smallfirst.cli import report as report_cli
    from smallfirst.cli import router as router_cli
    from smallfirst.cli import serve as serve_cli

    app = new_app(name="smallfirst", no_args_is_help=True)
    app.callback()(_root)
    app.command("serve")(serve_cli.serve)
    app.command("prompt")(prompt_cli.prompt)
    app.add_typer(models_cli.app, name="models")
    app.add_typer(config_cli.app, name="config")
    app.add_typer(keys_cli.app, name="keys")
    app.command("plan")(plan_cli.plan)
    app.command("eval")(eval_cli.eval_command)
    app.add_typer(catalog_cli.app, name="catalog")
    from smallfirst.cli.router_retrain import retrain as router_retrain

    if "retrain" not in {c.name for c in router_cli.app.registered_commands}:  # build() may run more than once
        router_cli.app.command("retrain")(router_retrain)  # train on the log, gate on recent traffic, promote
    app.add_typer(router_cli.app, name="router")
    app.add_typer(cascade_cli.app, name="cascade")
    app.add_typer(cache_cli.app, name="cache")
    app.add_typer(report_cli.app, name="report")
    app.add_typer(finetune_cli.app, name="finetune")
    return app


def _split_debug(argv: list[str]) -> tuple[list[str], bool]:
    """Drop ``--debug`` wherever it is before ``--`` (it is a global switch, not a verb's option)."""
    end = argv.index("--") if "--" in argv else len(argv)
    kept = [a for a in argv[:end] if a != "--debug"] + argv[end:]
    return kept, len(kept) != len(argv) or os.environ.get("SMALLFIRST_DEBUG", "") not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    args, debug = _split_debug(list(sys.argv[1:] if argv is None else argv))
    args = legacy_json_path(args)
    app = build()
    try:
        rc = app(args=args, prog_name="smallfirst", standalone_mode=False)  # returns typer.Exit's code
    except typer.Exit as e:
        return int(e.exit_code or 0)
    except typer.Abort:
        print("smallfirst: aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("smallfirst: interrupted", file=sys.stderr)
        return 130
    except typer.TyperException as e:  # click's usage errors (typer's bundled click)
        if debug:
            raise
        if is_help_request(e):
            typer.echo(e.format_message())
            return 0
        if e.exit_code == 2:
            print(usage_line(e), file=sys.stderr)
        else:
            print(f"smallfirst: error: {e.format_message()}", file=sys.stderr)
        return e.exit_code
    except Exception as e:
        if debug:
            raise
        print(runtime_line(e), file=sys.stderr)
        return error_exit_code(e)
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
