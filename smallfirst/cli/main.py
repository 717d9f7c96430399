"""`smallfirst` entry point: registers the verbs and turns errors into one line + exit code."""

from __future__ import annotations

import sys

import typer

from smallfirst.core.errors import ConfigError, SmallfirstError


def build() -> typer.Typer:
    from smallfirst.cli import cascade as cascade_cli
    from smallfirst.cli import catalog as catalog_cli
    from smallfirst.cli import config as config_cli
    from smallfirst.cli import eval as eval_cli
    from smallfirst.cli import finetune as finetune_cli
    from smallfirst.cli import keys as keys_cli
    from smallfirst.cli import plan as plan_cli
    from smallfirst.cli import report as report_cli
    from smallfirst.cli import router as router_cli
    from smallfirst.cli import serve as serve_cli

    app = typer.Typer(name="smallfirst", no_args_is_help=True, add_completion=False,
                      help="SLM-first gateway: answer locally first, escalate only when needed.")
    app.command("serve")(serve_cli.serve)
    app.add_typer(config_cli.app, name="config")
    app.add_typer(keys_cli.app, name="keys")
    app.command("plan")(plan_cli.plan)
    app.command("eval")(eval_cli.eval_command)
    app.add_typer(catalog_cli.app, name="catalog")
    app.add_typer(router_cli.app, name="router")
    app.add_typer(cascade_cli.app, name="cascade")
    app.add_typer(report_cli.app, name="report")
    app.add_typer(finetune_cli.app, name="finetune")
    return app


def main(argv: list[str] | None = None) -> int:
    app = build()
    try:
        rc = app(args=argv, standalone_mode=False)  # click returns typer.Exit's code here
    except SmallfirstError as err:
        print(f"smallfirst: error: {err.one_line()}", file=sys.stderr)
        return 2 if isinstance(err, ConfigError) else 1
    except typer.Exit as e:
        return int(e.exit_code or 0)
    except typer.Abort:
        print("smallfirst: aborted", file=sys.stderr)
        return 130
    except Exception as e:  # click usage errors carry their own exit code
        import click

        if isinstance(e, click.ClickException):
            e.show()
            return e.exit_code
        raise
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
