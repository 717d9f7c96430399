"""The built-in backends, routers, stores and scorers, registered through the plugin hooks like any plugin.

Each is named by import path and imported only when it is built, so nothing heavy loads until a config uses
it. Built-in policies (residency, context window) are not here: they are configured by their own sections
and need what the pipeline builds (where each endpoint is, the detector, the endpoints' windows).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from smallfirst.core.errors import ConfigError
from smallfirst.plugins import Register, hookimpl

if TYPE_CHECKING:
    from smallfirst.config.schema import Settings
    from smallfirst.core.protocols import Store

BACKENDS: dict[str, str] = {
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

ROUTERS: dict[str, str] = {
    "rules": "smallfirst.routing.rules:from_config",
    "learned": "smallfirst.routing.reload:from_config",  # followed on disk: reloaded when replaced
    "random": "smallfirst.routing.random_router:from_config",
    "fixed": "smallfirst.routing.fixed:from_config",
}

SCORERS: dict[str, str] = {
    "exact": "smallfirst.evaluate.scorers.exact:ExactScorer",
    "label": "smallfirst.evaluate.scorers.exact:LabelScorer",
    "json": "smallfirst.evaluate.scorers.jsonfield:JsonScorer",
    "number": "smallfirst.evaluate.scorers.number:NumberScorer",
    "regex": "smallfirst.evaluate.scorers.regex:RegexScorer",
    "f1": "smallfirst.evaluate.scorers.overlap:F1Scorer",
    "rouge_l": "smallfirst.evaluate.scorers.overlap:RougeLScorer",
}
JUDGE_SCORERS = ("judge", "judge_pairwise")  # built by the eval runner from `--judge TIER`


def load(path: str) -> Callable[..., Any]:
    module, _, attr = path.partition(":")
    fn: Callable[..., Any] = getattr(importlib.import_module(module), attr)
    return fn


class _FromConfig:
    """A built-in ``from_config(config)`` (or scorer class) behind the hook's ``factory(config, options)``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, *config: Any) -> Any:  # (config, options) or, for scorers, (options)
        return load(self.path)(*config[:-1])

    def __repr__(self) -> str:
        return f"<built-in {self.path}>"


def _judge(options: None) -> Any:
    raise ConfigError("the judge scorers are built by `smallfirst eval` from a tier of your config",
                      hint="pass --judge TIER to `smallfirst eval`")


def sqlite_store(settings: Settings, options: None) -> Store:
    from smallfirst.store.sqlite import SQLiteStore

    log = settings.log
    return SQLiteStore(log.path, batch_size=log.batch_size, flush_interval_s=log.flush_interval_s)


def postgres_store(settings: Settings, options: None) -> Store:
    log = settings.log
    if log.url is None:
        raise ConfigError("log.store = 'postgres' needs log.url",
                          hint='set log.url = "postgresql://user@host:5432/db" (or leave log.store out)')
    from smallfirst.store.postgres import PostgresStore

    return PostgresStore(log.url, batch_size=log.batch_size, flush_interval_s=log.flush_interval_s)


@hookimpl
def register_backends(register: Register) -> None:
    for name, path in BACKENDS.items():
        register(name, _FromConfig(path))


@hookimpl
def register_routers(register: Register) -> None:
    for name, path in ROUTERS.items():
        register(name, _FromConfig(path))


@hookimpl
def register_stores(register: Register) -> None:
    register("sqlite", sqlite_store)
    register("postgres", postgres_store)


@hookimpl
def register_scorers(register: Register) -> None:
    for name, path in SCORERS.items():
        register(name, _FromConfig(path))
    for name in JUDGE_SCORERS:
        register(name, _judge)
