"""Field checks shared by the wire parsers: each failure is a 400 whose message and ``param`` name the field."""

from __future__ import annotations

from typing import Any

from smallfirst.core.errors import BadRequestError


def bad(msg: str, param: str, hint: str = "") -> BadRequestError:
    return BadRequestError(f"{param}: {msg}", param=param, hint=hint)


def obj(v: Any, where: str) -> dict[str, Any]:
    """``v`` itself when it is a JSON object."""
    if not isinstance(v, dict):
        raise bad("must be an object", where)
    return v


def string(d: dict[str, Any], key: str, where: str) -> str:
    """``d[key]`` when it is a string."""
    v = d.get(key)
    if not isinstance(v, str):
        raise bad("must be a string", f"{where}.{key}")
    return v
