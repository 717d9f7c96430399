"""Name → factory registry for backends, routers, policies, stores and scorers, built-ins and plugins alike.

Everything registers through the hooks of :mod:`smallfirst.plugins` (the built-ins in
:mod:`smallfirst.config.builtins`, third-party plugins through entry points in the ``smallfirst`` group).
A name registered twice — a plugin reusing a built-in's name, or two plugins the same name — is a
:class:`ConfigError` naming both, never a silent override. Each factory here validates the thing's options
with its option model before building it, and checks that what it built implements the protocol.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from smallfirst.config.builtins import BACKENDS as BUILTIN_BACKENDS
from smallfirst.config.builtins import ROUTERS as BUILTIN_ROUTERS
from smallfirst.config.errors import Loc, fmt_path, format_validation_error
from smallfirst.config.plugin_loader import plugin_manager
from smallfirst.core import protocols
from smallfirst.core.errors import ConfigError
from smallfirst.plugins import BUILTIN, LOAD_ENV, Options

if TYPE_CHECKING:
    import pluggy

    from smallfirst.config.schema import EndpointConfig, Settings
    from smallfirst.core.protocols import Backend, Policy, Router, Scorer, Store

Kind = Literal["backend", "router", "policy", "store", "scorer"]
HOOK: dict[Kind, str] = {"backend": "register_backends", "router": "register_routers",
                         "policy": "register_policies", "store": "register_stores", "scorer": "register_scorers"}
PROTOCOL: dict[Kind, type] = {"backend": protocols.Backend, "router": protocols.Router,
                              "policy": protocols.Policy, "store": protocols.Store, "scorer": protocols.Scorer}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

__all__ = ["BUILTIN_BACKENDS", "BUILTIN_ROUTERS", "Registration", "Registry", "backend_factory", "backend_names",
           "names", "plugin_policies", "registry", "reload_plugins", "router_factory", "router_names",
           "scorer_factory", "store_factory", "store_name"]


class _NoOptions(Options):
    """What a thing registered without an option model accepts: nothing."""


@dataclass(frozen=True, slots=True)
class Registration:
    kind: Kind
    name: str
    factory: Callable[..., Any]
    options: type[BaseModel] | None
    source: str  # "built-in" or "plugin <distribution>:<entry point>"

    @property
    def label(self) -> str:
        """``built-in backend 'fake'`` or ``backend 'echo' from plugin smallfirst-echo-plugin:echo``."""
        if self.source == "built-in":
            return f"built-in {self.kind} '{self.name}'"
        return f"{self.kind} '{self.name}' from {self.source}"

    def parse_options(self, data: Mapping[str, Any], prefix: Loc, source: str = "config") -> BaseModel | None:
        """``data`` (the table at ``prefix``) validated by the option model; None without a model."""
        model = self.options or _NoOptions
        try:
            parsed = model.model_validate(dict(data))
        except ValidationError as err:
            if self.options is None:
                keys = ", ".join(f"'{fmt_path((*prefix, k))}'" for k in data)
                verb = "is" if len(data) == 1 else "are"
                raise ConfigError(f"{source}: {self.label} takes no options, but {keys} {verb} set",
                                  hint=f"remove {fmt_path(prefix)}: only plugins that declare an option model "
                                  "take options") from None
            raise format_validation_error(err, source, root=model, prefix=prefix, owner=f"options of {self.label}",
                                          reference=f"see the documentation of {self.source}") from None
        return parsed if self.options else None

    def build(self, *config: Any) -> Any:
        """Call the factory; what comes back must implement the kind's protocol."""
        made = self.factory(*config)
        proto = PROTOCOL[self.kind]
        if not isinstance(made, proto):
            raise ConfigError(f"the factory of {self.label} returned an instance of {type(made).__qualname__}, "
                              f"not of {proto.__module__}.{proto.__name__}",
                              hint=f"its factory must return a subclass of {proto.__name__}")
        return made


def _source(plugin_name: str | None) -> str:
    return "built-in" if plugin_name == BUILTIN else f"plugin {plugin_name}"


def _check(kind: Kind, name: object, factory: object, options: object, source: str) -> None:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ConfigError(f"{source} registers {kind} name {name!r}: names are 1-64 letters, digits, '_', '-', '.'",
                          hint="fix the name in the plugin's register() call")
    if not callable(factory):
        raise ConfigError(f"{source} registers {kind} '{name}' with a factory that is not callable",
                          hint="pass a function or class as register()'s second argument")
    if options is not None and not (isinstance(options, type) and issubclass(options, BaseModel)):
        raise ConfigError(f"{source} registers {kind} '{name}' with options={options!r}, not a pydantic model",
                          hint="pass a subclass of smallfirst.plugins.Options (or of pydantic.BaseModel)")
    if options is not None and options.model_config.get("extra") != "forbid":
        raise ConfigError(f"{source} registers {kind} '{name}' with option model {options.__name__}, which "
                          "accepts unknown keys", hint="subclass smallfirst.plugins.Options, or set "
                          "model_config = ConfigDict(extra='forbid'): a misspelt option must be an error")


class Registry:
    """Every registration, by kind and name, collected from one plugin manager."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._tables: dict[Kind, dict[str, Registration]] = {k: {} for k in HOOK}
        for kind, hook in HOOK.items():
            for impl in getattr(pm.hook, hook).get_hookimpls():
                if not (impl.hookwrapper or impl.wrapper):
                    self._call(kind, impl)

    def _call(self, kind: Kind, impl: pluggy.HookImpl) -> None:
        source = _source(impl.plugin_name)
        table = self._tables[kind]

        def register(name: str, factory: Callable[..., Any], *, options: type[BaseModel] | None = None) -> None:
            _check(kind, name, factory, options, source)
            if name in table:
                first = table[name].source
                raise ConfigError(f"{kind} name '{name}' is registered twice: by {first} and by {source}",
                                  hint="a plugin cannot replace a built-in's or another plugin's name: rename it "
                                  f"in the plugin, or uninstall one of them (or leave it out with {LOAD_ENV})")
            table[name] = Registration(kind, name, factory, options, source)

        try:
            impl.function(**{arg: register for arg in impl.argnames})
        except ConfigError:
            raise
        except Exception as err:  # a bug in third-party registration code: name it, keep the cause
            raise ConfigError(f"{source}: {HOOK[kind]} failed: {type(err).__name__}: {err}",
                              hint=f"fix or uninstall the plugin, or leave it out with {LOAD_ENV}") from err

    def names(self, kind: Kind) -> list[str]:
        return sorted(self._tables[kind])

    def get(self, kind: Kind, name: str, *, where: str = "", source: str = "") -> Registration:
        """The registration of ``name``; unknown: a ConfigError naming ``where`` (the key in the file)."""
        reg = self._tables[kind].get(name)
        if reg is not None:
            return reg
        known = self.names(kind)
        close = difflib.get_close_matches(name, known, n=1)
        at = f"'{where}': " if where else ""
        choose = f"choose one of: {', '.join(known)}" if known else f"no {kind} is registered: install a plugin"
        raise ConfigError(f"{source + ': ' if source else ''}{at}unknown {kind} {name!r}",
                          hint=(f"did you mean '{close[0]}'? " if close else "") + choose)


@lru_cache(maxsize=1)
def _registry(pm: pluggy.PluginManager) -> Registry:
    return Registry(pm)


def registry() -> Registry:
    """The registry of this process: the built-ins and every installed plugin, loaded once."""
    return _registry(plugin_manager())


def reload_plugins() -> None:
    """Forget the loaded plugins; the next lookup loads them again (after installing one, in tests)."""
    plugin_manager.cache_clear()
    _registry.cache_clear()


def names(kind: Kind) -> list[str]:
    return registry().names(kind)


def backend_names() -> list[str]:
    return names("backend")


def router_names() -> list[str]:
    return names("router")


def backend_factory(name: str) -> Callable[[EndpointConfig], Backend]:
    """``backend_factory(cfg.backend)(cfg)``: the endpoint's backend, its ``options`` validated first."""
    reg = registry().get("backend", name)

    def build(cfg: EndpointConfig) -> Backend:
        backend: Backend = reg.build(cfg, reg.parse_options(cfg.options, ("options",)))
        return backend

    return build


def router_factory(name: str) -> Callable[[Settings], Router]:
    """``router_factory(settings.routing.router)(settings)``, ``[routing.options]`` validated first."""
    reg = registry().get("router", name)

    def build(settings: Settings) -> Router:
        router: Router = reg.build(settings, reg.parse_options(settings.routing.options, ("routing", "options")))
        return router

    return build


def store_name(settings: Settings) -> str:
    """``log.store``, else postgres when ``log.url`` is set, else sqlite."""
    log = settings.log
    return log.store or ("postgres" if log.url is not None else "sqlite")


def store_factory(name: str) -> Callable[[Settings], Store]:
    """``store_factory(store_name(settings))(settings)``: the request log, ``[log.options]`` validated first."""
    reg = registry().get("store", name)

    def build(settings: Settings) -> Store:
        store: Store = reg.build(settings, reg.parse_options(settings.log.options, ("log", "options")))
        return store

    return build


def plugin_policies(settings: Settings) -> list[Policy]:
    """One policy per ``[policies.<name>]`` table, in the file's order (none when there is no such table)."""
    out: list[Policy] = []
    for name, data in settings.policies.items():
        reg = registry().get("policy", name, where=f"policies.{name}")
        out.append(reg.build(settings, reg.parse_options(data, ("policies", name))))
    return out


def scorer_factory(name: str) -> Callable[[Mapping[str, Any]], Scorer]:
    """``scorer_factory(name)(settings.scorers.get(name, {}))``: the scorer, its options validated first."""
    reg = registry().get("scorer", name)

    def build(options: Mapping[str, Any]) -> Scorer:
        scorer: Scorer = reg.build(reg.parse_options(options, ("scorers", name)))
        return scorer

    return build
