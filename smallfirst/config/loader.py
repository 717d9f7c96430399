"""Load ``smallfirst.toml`` into :class:`Settings`, with errors that name the key path."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from smallfirst.config.aliases import check as check_aliases
from smallfirst.config.errors import format_validation_error
from smallfirst.config.plugin_options import check_plugins
from smallfirst.config.schema import Settings
from smallfirst.core.errors import ConfigError

DEFAULT_PATH = "smallfirst.toml"

__all__ = ["DEFAULT_PATH", "format_validation_error", "load", "parse"]


def parse(data: dict[str, Any], source: str = "config") -> Settings:
    try:
        settings = Settings.model_validate(data)
    except ValidationError as err:
        raise format_validation_error(err, source) from None
    check_plugins(settings, source)  # names the registry knows, options their models accept
    check_aliases(settings, source)  # every alias names a route that exists
    return settings


def load(path: str | Path | None = None) -> Settings:
    """Load settings. ``path=None`` reads ./smallfirst.toml if present, else built-in defaults."""
    if path is None:
        p = Path(DEFAULT_PATH)
        if not p.exists():
            return Settings()
    else:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"config file {str(p)!r} not found", hint="run `smallfirst plan --write` to create one")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{p}: not valid TOML: {err}", hint="check quoting and brackets on that line") from None
    return parse(data, str(p))
