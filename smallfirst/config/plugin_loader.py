"""Loading plugins: the built-ins and every installed ``smallfirst`` entry point, checked against the hooks
declared in :mod:`smallfirst.plugins`, once per process."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

import pluggy

import smallfirst.plugins as specs
from smallfirst.config import builtins
from smallfirst.core.errors import ConfigError
from smallfirst.plugins import BUILTIN, GROUP, HOOKS, LOAD_ENV


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
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(specs)
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
