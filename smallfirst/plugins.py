"""The plugin surface: five registration hooks, their markers, and the one loader.

A plugin is a module named by an entry point in the ``smallfirst`` group; it implements any of the hooks
below with :data:`hookimpl` and calls ``register(name, factory, options=Model)`` once per thing it adds::

    from smallfirst.plugins import Options, hookimpl

    class EchoOptions(Options):
        greeting: str = "hello"

    @hookimpl
    def register_backends(register):
        register("echo", make_echo, options=EchoOptions)   # make_echo(endpoint, options) -> Backend

``factory`` is called with the config it is built from and the validated ``options`` (an instance of the
registered model, or ``None`` when none was registered): ``(endpoint, options)`` for backends,
``(settings, options)`` for routers, policies and stores, ``(options)`` for scorers. The built-ins
register through the same hooks (:mod:`smallfirst.config.builtins`); :mod:`smallfirst.config.registry`
collects everything and refuses a name registered twice. See ``docs/plugins.md``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol

import pluggy
from pydantic import BaseModel, ConfigDict

from smallfirst.core.errors import ConfigError

GROUP = "smallfirst"  # the entry-point group (and pluggy project name)
LOAD_ENV = "SMALLFIRST_LOAD_PLUGINS"  # unset: every installed plugin; "": none; "a,b": only these distributions
BUILTIN = "smallfirst"  # the pluggy name of the built-ins

hookspec = pluggy.HookspecMarker(GROUP)
hookimpl = pluggy.HookimplMarker(GROUP)


class Options(BaseModel):
    """A convenient base for option models: unknown keys are errors, values are read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Register(Protocol):
    """What each hook receives: call it once per name the plugin adds."""

    def __call__(self, name: str, factory: Callable[..., Any], *, options: type[BaseModel] | None = None) -> None:
        ...


@hookspec
def register_backends(register: Register) -> None:
    """``factory(endpoint: EndpointConfig, options) -> Backend``; options from ``[tiers.endpoints.options]``."""


@hookspec
def register_routers(register: Register) -> None:
    """``factory(settings: Settings, options) -> Router``; options from ``[routing.options]``."""


@hookspec
def register_policies(register: Register) -> None:
    """``factory(settings: Settings, options) -> Policy``; a ``[policies.<name>]`` table turns it on and holds its
    options."""


@hookspec
def register_stores(register: Register) -> None:
    """``factory(settings: Settings, options) -> Store``; chosen by ``log.store``, options from ``[log.options]``."""


@hookspec
def register_scorers(register: Register) -> None:
    """``factory(options) -> Scorer``; named by a task's ``scorer``, options from ``[scorers.<name>]``."""


HOOKS = ("register_backends", "register_routers", "register_policies", "register_stores", "register_scorers")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _selected(eps: list[EntryPoint]) -> list[EntryPoint]:
    """The entry points :data:`LOAD_ENV` lets load (all when it is unset)."""
    wanted = os.environ.get(LOAD_ENV)
    if wanted is None:
        return eps
    names = {_normal(n) for n in wanted.split(",") if n.strip()}
    installed = {_normal(ep.dist.name) for ep in eps if ep.dist is not None}
    missing = sorted(names - installed)
    if missing:
        raise ConfigError(f"{LOAD_ENV} names {', '.join(missing)}, which is not an installed smallfirst plugin",
                          hint=f"installed: {', '.join(sorted(installed)) or 'none'}; leave {LOAD_ENV} unset "
                          "to load every installed plugin")
    return [ep for ep in eps if ep.dist is not None and _normal(ep.dist.name) in names]


def plugin_name(ep: EntryPoint) -> str:
    """How a loaded plugin is named in messages: ``<distribution>:<entry point>``."""
    return f"{ep.dist.name if ep.dist is not None else '?'}:{ep.name}"


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


def _load(ep: EntryPoint) -> tuple[str, object]:
    try:
        return plugin_name(ep), ep.load()
    except Exception as err:  # any import failure of third-party code: name the plugin, keep the cause
        dist = ep.dist.name if ep.dist is not None else ep.value
        raise ConfigError(f"smallfirst plugin {plugin_name(ep)} ({ep.value}) failed to load: "
                          f"{type(err).__name__}: {_one_line(err)}",
                          hint=f"fix or uninstall it (pip uninstall {dist}), or set {LOAD_ENV} to the "
                          "plugins to load (empty: none)") from err


def new_plugin_manager(plugins: Iterable[tuple[str, object]] = ()) -> pluggy.PluginManager:
    """A plugin manager with the hooks declared, the built-ins registered, then ``plugins`` (name, module or
    object) — each checked against the hook specs."""
    from smallfirst.config import builtins

    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(sys.modules[__name__])
    pm.register(builtins, name=BUILTIN)
    for name, plugin in plugins:
        if pm.is_registered(plugin):  # two entry points naming one module
            continue
        try:
            pm.register(plugin, name=name)
        except pluggy.PluginValidationError as err:  # a hook implementation with arguments the spec lacks
            raise ConfigError(f"smallfirst plugin {name}: {_one_line(err)}",
                              hint="each hook takes one argument, register (see docs/plugins.md)") from None
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as err:  # @hookimpl on a name that is not a hook (a typo)
        raise ConfigError(f"smallfirst plugin {pm.get_name(err.plugin)}: {_one_line(err)}",
                          hint=f"the hooks are {', '.join(HOOKS)} (see docs/plugins.md)") from None
    return pm


@lru_cache(maxsize=1)
def plugin_manager() -> pluggy.PluginManager:
    """The built-ins plus every installed plugin (filtered by :data:`LOAD_ENV`), loaded once per process.
    :func:`smallfirst.config.registry.reload_plugins` forgets them (tests that install a plugin)."""
    return new_plugin_manager([_load(ep) for ep in _selected(list(entry_points(group=GROUP)))])
