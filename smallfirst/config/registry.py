"""Name → factory registry for backends and routers.

Built-ins are named by import path (so nothing heavy loads until used); third-party plugins
register through the ``smallfirst.backends`` / ``smallfirst.routers`` entry-point groups.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from smallfirst.core.errors import ConfigError

BUILTIN_BACKENDS: dict[str, str] = {
    "embedded": "smallfirst.backends.embedded:from_config",
    "openai_compat": "smallfirst.backends.openai_compat:from_config",
    "openai": "smallfirst.backends.openai_compat:from_config",
    "ollama": "smallfirst.backends.openai_compat:from_config",
    "lmstudio": "smallfirst.backends.openai_compat:from_config",
    "llamacpp": "smallfirst.backends.openai_compat:from_config",
    "vllm": "smallfirst.backends.openai_compat:from_config",
    "openrouter": "smallfirst.backends.openai_compat:from_config",
    "gemini": "smallfirst.backends.openai_compat:from_config",
    "ollama_native": "smallfirst.backends.ollama:from_config",
    "anthropic": "smallfirst.backends.anthropic:from_config",
    "fake": "smallfirst.backends.fake:from_config",
}

BUILTIN_ROUTERS: dict[str, str] = {
    "rules": "smallfirst.routing.rules:from_config",
    "learned": "smallfirst.routing.learned:from_config",
    "random": "smallfirst.routing.random_router:from_config",
    "fixed": "smallfirst.routing.fixed:from_config",
}


def _load(path: str) -> Callable[..., Any]:
    module, _, attr = path.partition(":")
    fn: Callable[..., Any] = getattr(importlib.import_module(module), attr)
    return fn


def _plugins(group: str) -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=group)}


def backend_names() -> list[str]:
    return sorted({**BUILTIN_BACKENDS, **_plugins("smallfirst.backends")})


def router_names() -> list[str]:
    return sorted({**BUILTIN_ROUTERS, **_plugins("smallfirst.routers")})


def backend_factory(name: str) -> Callable[..., Any]:
    table = {**_plugins("smallfirst.backends"), **BUILTIN_BACKENDS}
    if name not in table:
        raise ConfigError(f"unknown backend {name!r}", hint=f"choose one of: {', '.join(backend_names())}")
    return _load(table[name])


def router_factory(name: str) -> Callable[..., Any]:
    table = {**_plugins("smallfirst.routers"), **BUILTIN_ROUTERS}
    if name not in table:
        raise ConfigError(f"unknown router {name!r}", hint=f"choose one of: {', '.join(router_names())}")
    return _load(table[name])
