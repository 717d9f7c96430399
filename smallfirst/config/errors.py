"""Pydantic validation errors → one :class:`ConfigError` line that names each key by its path in the file."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from smallfirst.core.errors import ConfigError

Loc = tuple[str | int, ...]


def model_at(root: type[BaseModel], path: Loc) -> type[BaseModel] | None:
    """The pydantic model class under ``root`` that owns the key at ``path`` (for "did you mean" hints)."""
    model: Any = root
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


def fmt_path(loc: Loc) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def format_validation_error(err: ValidationError, source: str, *, root: type[BaseModel] | None = None,
                            prefix: Loc = (), owner: str = "",
                            reference: str = "see the configuration reference in README.md") -> ConfigError:
    """``root``: the model validated (default :class:`Settings`), found at ``prefix`` in the file; ``owner``
    is added to each line (e.g. ``options of backend 'echo', plugin smallfirst-echo:echo``)."""
    if root is None:
        from smallfirst.config.schema import Settings

        root = Settings
    lines: list[str] = []
    hint = ""
    about = f" ({owner})" if owner else ""
    for e in err.errors():
        loc = tuple(e["loc"])
        where = fmt_path(prefix + loc)
        if e["type"] == "extra_forbidden":
            known_model = model_at(root, loc)
            known = sorted(known_model.model_fields) if known_model else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            lines.append(f"unknown key '{where}'{about}")
            if close:
                hint = f"did you mean '{close[0]}'?"
            else:
                hint = f"allowed keys here: {', '.join(known)}" if known else "no keys are allowed here"
        else:
            lines.append(f"'{where}': {e['msg']}{about}")
            hint = hint or reference
    return ConfigError(f"{source}: " + "; ".join(lines), hint=hint)
