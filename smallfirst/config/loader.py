"""Load ``smallfirst.toml`` into :class:`Settings`, with errors that name the key path."""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from smallfirst.config.schema import Settings
from smallfirst.core.errors import ConfigError

DEFAULT_PATH = "smallfirst.toml"


def _model_at(path: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The pydantic model class that owns the key at ``path`` (for "did you mean" hints)."""
    model: Any = Settings
    for part in path[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", None)
        nxt = args[0] if args else ann
        if not (isinstance(nxt, type) and issubclass(nxt, BaseModel)):
            return None
        model = nxt
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _fmt_path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def format_validation_error(err: ValidationError, source: str) -> ConfigError:
    lines: list[str] = []
    hint = ""
    for e in err.errors():
        loc = tuple(e["loc"])
        where = _fmt_path(loc)
        if e["type"] == "extra_forbidden":
            owner = _model_at(loc)
            known = sorted(owner.model_fields) if owner else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            lines.append(f"unknown key '{where}'")
            hint = f"did you mean '{close[0]}'?" if close else f"allowed keys here: {', '.join(known)}"
        else:
            lines.append(f"'{where}': {e['msg']}")
            hint = hint or "see the configuration reference in README.md"
    return ConfigError(f"{source}: " + "; ".join(lines), hint=hint)


def parse(data: dict[str, Any], source: str = "config") -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        raise format_validation_error(err, source) from None


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
