"""The plugin surface: five registration hooks and their markers (the loader: :mod:`smallfirst.config.plugin_loader`).

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

from collections.abc import Callable
from typing import Any, Protocol

import pluggy
from pydantic import BaseModel, ConfigDict

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
