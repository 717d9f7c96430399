"""How the CLI reports a failure: one line on stderr, exit 2 for usage, 1 for the rest.

Usage errors come from typer's bundled click as :class:`typer.TyperException` subclasses (typer 0.29
vendors click as ``typer._click``: the standalone ``click`` package's exception classes never match them).
Only their public attributes are read here: ``exit_code``, ``format_message()``, and ``ctx`` /
``option_name`` / ``possibilities`` where present.
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from smallfirst.core.errors import BadRequestError, ConfigError, SmallfirstError
from smallfirst.core.suggest import did_you_mean

PROG = "smallfirst"


class UsageError(BadRequestError):
    """A command line the CLI cannot act on (exit 2), e.g. two modes given at once."""


def _ctx_help_hint(ctx: Any) -> str:
    path = getattr(ctx, "command_path", None) or PROG
    return f"see '{path} --help'"


def is_help_request(err: typer.TyperException) -> bool:
    """A group called with no subcommand (``no_args_is_help``): its message is the group's help."""
    ctx: Any = getattr(err, "ctx", None)
    return ctx is not None and err.format_message() == ctx.get_help()


def usage_line(err: typer.TyperException) -> str:
    """One line for a click usage error, with "did you mean" and where to look for help."""
    ctx: Any = getattr(err, "ctx", None)
    option: str | None = getattr(err, "option_name", None)
    text = err.format_message().strip()
    suggestion = ""
    if option is not None and hasattr(err, "possibilities"):  # an unknown option (not a misused one)
        text = f"no such option {option}"
        possible = sorted(getattr(err, "possibilities", None) or ())
        suggestion = f"did you mean {' or '.join(possible)}?" if possible else ""
    elif (text.startswith("No such command") and "did you mean" not in text.lower() and ctx is not None
          and hasattr(ctx.command, "list_commands")):
        name = text.split("'")[1] if text.count("'") >= 2 else ""
        suggestion = did_you_mean(name, ctx.command.list_commands(ctx))
    parts = [text.rstrip(".")]
    if suggestion:
        parts.append(suggestion)
    return f"{PROG}: error: {'; '.join(parts)} ({_ctx_help_hint(ctx)})"


def error_exit_code(err: BaseException) -> int:
    """2 for mistakes in the command line or the config, 1 for failures while running."""
    if isinstance(err, (UsageError, ConfigError)):
        return 2
    return 1


def runtime_line(err: BaseException) -> str:
    """One line for an error raised while running a command."""
    if isinstance(err, SmallfirstError):
        return f"{PROG}: error: {err.one_line()}"
    if isinstance(err, OSError) and err.filename is not None:
        return f"{PROG}: error: {err.strerror or err}: {err.filename} (run with --debug for the traceback)"
    text = " ".join(str(err).split()) or type(err).__name__
    return f"{PROG}: error: {type(err).__name__}: {text} (run with --debug for the traceback)"


def legacy_json_path(args: list[str]) -> list[str]:
    """``report [residency] --json PATH`` (before ``--json`` meant stdout) → ``--out PATH``, with a warning."""
    if not args or args[0] != "report":
        return args
    out = list(args)
    for i, a in enumerate(out[:-1]):
        if a == "--json" and not out[i + 1].startswith("-") and out[i + 1] != "residency":
            out[i] = "--out"
            print(f"{PROG}: warning: 'report --json PATH' is deprecated: use '--out {out[i + 1]}' "
                  "(--json alone prints the JSON to stdout)", file=sys.stderr)
    return out
