"""One way to make a Typer app for smallfirst's verbs, so every one behaves alike.

``rich_markup_mode=None``: typer 0.29's rich help panel prints a ``<bool>`` type for every flag
(``typer/rich_utils.py`` shows ``display_type_rich`` without the ``is_flag`` check its plain formatter
has); the plain click-style help lists flags without a type. ``pretty_exceptions_enable=False``:
:func:`smallfirst.cli.main.main` turns errors into one line, and ``--debug`` shows Python's own traceback.
"""

from __future__ import annotations

from typing import Any

import typer


def new_app(**kwargs: Any) -> typer.Typer:
    """A ``typer.Typer`` with smallfirst's help and error conventions (keyword arguments pass through)."""
    kwargs.setdefault("add_completion", False)
    return typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False, **kwargs)
