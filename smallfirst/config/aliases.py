"""``[aliases]``: model names a client sends, mapped to a route of this gateway.

::

    [aliases]
    "gpt-4o" = "smallfirst/auto"             # the router chooses, as for smallfirst/auto
    "claude-sonnet-4-5" = "smallfirst/frontier"  # a tier
    "auto" = "smallfirst/auto"               # for clients that split "smallfirst/auto" into provider/model
    "small" = "smollm2-135m"                 # a configured model (an endpoint's model id or name)
    "text-embedding-3-small" = "all-minilm-l6-v2"  # the built-in embedding model (/v1/embeddings)

An alias resolves once, where the request enters the gateway (before admission, routing and the log's
model column, which keeps the name the client sent in ``requested_model``). A target must be a route that
exists: ``smallfirst/auto``, ``smallfirst/<tier>``, a configured model or the built-in embedding model
(``all-minilm-l6-v2``); an alias naming another alias,
an alias shadowing a real route, or a target nobody serves is a config error with a "did you mean".
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from smallfirst.core.errors import ConfigError
from smallfirst.core.types import AUTO_MODEL, MODEL_PREFIX

if TYPE_CHECKING:
    from smallfirst.config.schema import EndpointConfig, Settings

Resolve = Callable[[str], str]


def _endpoint_names(cfg: EndpointConfig) -> set[str]:
    """The names a request may use for this endpoint: its model id and its name (as its backend sets them)."""
    if cfg.backend == "embedded":
        from smallfirst.backends.embedded import DEFAULT_MODEL

        model = cfg.model or (DEFAULT_MODEL if not cfg.model_path else Path(cfg.model_path).stem)
        return {model, cfg.name or f"embedded:{model}"}
    if cfg.backend == "fake":
        return {(cfg.model or "echo").partition("?")[0], cfg.label}
    return {n for n in (cfg.model, cfg.label) if n}


def routes(settings: Settings) -> list[str]:
    """Every model name the gateway serves without an alias."""
    from smallfirst.embeddings.minilm import MODEL_ID

    out = [AUTO_MODEL, *(MODEL_PREFIX + t.name for t in settings.tiers)]
    for t in settings.tiers:
        for e in t.endpoints:
            out.extend(sorted(_endpoint_names(e) - set(out)))
    return [*out, MODEL_ID] if MODEL_ID not in out else out


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f"did you mean {close[0]!r}?" if close else ""


def check(settings: Settings, source: str = "config") -> None:
    """Raise :class:`ConfigError` when an alias is empty, shadows a route, or names no route."""
    if not settings.aliases:
        return
    from smallfirst.embeddings.minilm import NAMES

    known = routes(settings)
    served = set(known) | NAMES
    for alias, target in settings.aliases.items():
        where = f"{source}: aliases.{alias!r}"
        if not alias.strip():
            raise ConfigError(f"{source}: an alias name is empty", hint="give the model name clients send")
        if alias in served:
            raise ConfigError(f"{where}: {alias!r} is already a model this gateway serves; an alias cannot "
                              "replace it", hint="remove the alias, or rename the endpoint")
        if target in settings.aliases:
            raise ConfigError(f"{where} = {target!r}: names another alias; an alias must name a route",
                              hint=f"use {settings.aliases[target]!r}, what {target!r} maps to")
        if target not in served:
            hint = _did_you_mean(target, known) or f"routes here: {', '.join(known)}"
            raise ConfigError(f"{where} = {target!r}: no such route (not smallfirst/auto, a tier or a "
                              "configured model)", hint=hint)


def resolver(aliases: Mapping[str, str]) -> Resolve:
    """The function mapping a requested model name to its route (the name itself when it is no alias)."""
    table = dict(aliases)
    if not table:
        return _same
    return lambda model: table.get(model, model)


def _same(model: str) -> str:
    return model


def is_identity(resolve: Resolve) -> bool:
    """True for the resolver of an empty ``[aliases]`` table."""
    return resolve is _same


def owned_by(target: str) -> str:
    """``owned_by`` of an alias in ``/v1/models``: what it maps to."""
    return f"smallfirst alias of {target}"
