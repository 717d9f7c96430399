"""The registry: built-ins through the hooks, the name-conflict rule, bad registrations, option validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from smallfirst.config import builtins
from smallfirst.config.loader import parse
from smallfirst.config.plugin_loader import new_plugin_manager
from smallfirst.config.registry import (
    BUILTIN_BACKENDS,
    BUILTIN_ROUTERS,
    Registration,
    Registry,
    backend_factory,
    registry,
    router_factory,
    store_factory,
    store_name,
)
from smallfirst.config.schema import EndpointConfig, Settings
from smallfirst.core.errors import ConfigError
from smallfirst.core.protocols import Router
from smallfirst.plugins import BUILTIN, Options, Register, hookimpl


class Greeting(Options):
    greeting: str = "hello"
    repeat: int = 1


class _Plugin:
    """A plugin object registering one thing of ``hook``'s kind."""

    def __init__(self, hook: str, name: str, factory: Callable[..., Any] = lambda *a: None,
                 options: type[BaseModel] | None = None) -> None:
        def impl(register: Register) -> None:
            register(name, factory, options=options)

        setattr(self, hook, hookimpl(impl))


def _registry(*plugins: tuple[str, object]) -> Registry:
    return Registry(new_plugin_manager(plugins))


def test_builtins_are_registered_through_the_hooks() -> None:
    pm = new_plugin_manager()
    assert pm.get_plugin(BUILTIN) is builtins
    reg = Registry(pm)
    assert reg.names("backend") == sorted(BUILTIN_BACKENDS)
    assert reg.names("router") == sorted(BUILTIN_ROUTERS)
    assert reg.names("store") == ["postgres", "sqlite"]
    assert "exact" in reg.names("scorer") and "judge" in reg.names("scorer")
    assert reg.names("policy") == []
    assert reg.get("backend", "fake").source == "built-in"
    assert set(registry().names("backend")) >= set(BUILTIN_BACKENDS)  # the process's registry has them too


def test_existing_factory_signatures_still_build() -> None:
    backend = backend_factory("fake")(EndpointConfig(backend="fake", model="echo"))
    assert backend.name == "fake:echo"
    assert isinstance(router_factory("fixed")(Settings()), Router)
    assert store_name(Settings()) == "sqlite"
    assert store_name(parse({"log": {"url": "postgresql://u@h/db"}})) == "postgres"


def test_a_plugin_reusing_a_builtin_name_is_an_error() -> None:
    with pytest.raises(ConfigError) as ei:
        _registry(("my-dist:mine", _Plugin("register_backends", "fake")))
    line = ei.value.one_line()
    assert "backend name 'fake' is registered twice: by built-in and by plugin my-dist:mine" in line
    assert "rename it in the plugin, or uninstall one of them" in line


def test_two_plugins_with_one_name_is_an_error() -> None:
    with pytest.raises(ConfigError, match="router name 'smart' is registered twice: by plugin a:a and by plugin b:b"):
        _registry(("a:a", _Plugin("register_routers", "smart")), ("b:b", _Plugin("register_routers", "smart")))


def test_one_name_in_two_kinds_is_fine() -> None:
    reg = _registry(("a:a", _Plugin("register_routers", "fake")), ("b:b", _Plugin("register_policies", "fake")))
    assert reg.get("router", "fake").source == "plugin a:a"
    assert reg.get("backend", "fake").source == "built-in"


class Loose(BaseModel):
    greeting: str = "hello"


@pytest.mark.parametrize(("plugin", "message"), [
    (_Plugin("register_backends", "bad name!"), "registers backend name 'bad name!'"),
    (_Plugin("register_backends", "x", factory=42), "with a factory that is not callable"),  # type: ignore[arg-type]
    (_Plugin("register_stores", "x", options=dict), "not a pydantic model"),  # type: ignore[arg-type]
    (_Plugin("register_scorers", "x", options=Loose), "option model Loose, which accepts unknown keys"),
])
def test_bad_registrations_name_the_plugin(plugin: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as ei:
        _registry(("dist:ep", plugin))
    assert "plugin dist:ep" in ei.value.one_line()


def test_a_failing_hook_names_the_plugin() -> None:
    class Broken:
        @hookimpl
        def register_policies(self, register: Register) -> None:
            raise RuntimeError("boom")

    with pytest.raises(ConfigError, match=r"plugin dist:ep: register_policies failed: RuntimeError: boom"):
        _registry(("dist:ep", Broken()))


def test_misspelt_hook_and_extra_argument_are_one_line_errors() -> None:
    class Typo:
        @hookimpl
        def register_backend(self, register: Register) -> None: ...

    class Extra:
        @hookimpl
        def register_backends(self, register: Register, more: int) -> None: ...

    with pytest.raises(ConfigError, match="smallfirst plugin typo:t: unknown hook 'register_backend'") as ei:
        new_plugin_manager([("typo:t", Typo())])
    assert "the hooks are register_backends" in ei.value.one_line()
    with pytest.raises(ConfigError, match="smallfirst plugin extra:e:") as ei:
        new_plugin_manager([("extra:e", Extra())])
    assert "\n" not in ei.value.one_line() and "more" in ei.value.one_line()


def test_what_a_factory_builds_must_implement_the_protocol() -> None:
    reg = _registry(("d:e", _Plugin("register_backends", "nothing", factory=lambda cfg, opts: object())))
    with pytest.raises(ConfigError, match=r"the factory of backend 'nothing' from plugin d:e returned an instance "
                       r"of object, not of smallfirst\.core\.protocols\.Backend"):
        reg.get("backend", "nothing").build(EndpointConfig(backend="nothing"), None)


def _reg(options: type[BaseModel] | None = Greeting) -> Registration:
    return Registration("backend", "echo", lambda *a: None, options, "plugin echo-dist:echo")


def test_options_are_validated_by_the_model() -> None:
    parsed = _reg().parse_options({"greeting": "hi", "repeat": 2}, ("tiers", 0, "endpoints", 1, "options"))
    assert parsed == Greeting(greeting="hi", repeat=2)
    assert _reg().parse_options({}, ("options",)) == Greeting()


def test_unknown_option_is_one_line_with_path_plugin_and_suggestion() -> None:
    with pytest.raises(ConfigError) as ei:
        _reg().parse_options({"greetin": "hi"}, ("tiers", 0, "endpoints", 1, "options"), "smallfirst.toml")
    assert ei.value.one_line() == ("smallfirst.toml: unknown key 'tiers[0].endpoints[1].options.greetin' (options "
                                   "of backend 'echo' from plugin echo-dist:echo) — did you mean 'greeting'?")


def test_wrong_option_type_names_the_key() -> None:
    with pytest.raises(ConfigError) as ei:
        _reg().parse_options({"repeat": "often"}, ("policies", "echo"))
    line = ei.value.one_line()
    assert line.startswith("config: 'policies.echo.repeat': Input should be a valid integer")
    assert "(options of backend 'echo' from plugin echo-dist:echo)" in line
    assert "see the documentation of plugin echo-dist:echo" in line


def test_options_for_something_without_a_model_are_refused() -> None:
    assert _reg(None).parse_options({}, ("options",)) is None
    with pytest.raises(ConfigError) as ei:
        _reg(None).parse_options({"a": 1}, ("log", "options"))
    assert ei.value.one_line() == ("config: backend 'echo' from plugin echo-dist:echo takes no options, but "
                                   "'log.options.a' is set — remove log.options: only plugins that declare an "
                                   "option model take options")


def test_builtins_take_no_options_and_unknown_names_get_a_suggestion() -> None:
    ep = {"backend": "fake", "model": "echo"}
    with pytest.raises(ConfigError, match=r"built-in backend 'fake' takes no options, but "
                       r"'tiers\[0\]\.endpoints\[0\]\.options\.greeting' is set"):
        parse({"tiers": [{"name": "t", "endpoints": [{**ep, "options": {"greeting": "x"}}]}]})
    with pytest.raises(ConfigError, match=r"built-in router 'rules' takes no options"):
        parse({"tiers": [{"name": "t", "endpoints": [ep]}], "routing": {"options": {"x": 1}}})
    with pytest.raises(ConfigError) as ei:
        parse({"tiers": [{"name": "t", "endpoints": [{**ep, "backend": "fakee"}]}]})
    assert ("config: 'tiers[0].endpoints[0].backend': unknown backend 'fakee' — did you mean 'fake'? choose one of: "
            in ei.value.one_line())
    with pytest.raises(ConfigError, match=r"'log\.store': unknown store 'sqlit'"):
        parse({"tiers": [{"name": "t", "endpoints": [ep]}], "log": {"store": "sqlit"}})
    with pytest.raises(ConfigError, match=r"'scorers\.exakt': unknown scorer 'exakt'"):
        parse({"tiers": [{"name": "t", "endpoints": [ep]}], "scorers": {"exakt": {}}})


def test_builtin_stores_through_the_registry(tmp_path: Any) -> None:
    s = parse({"tiers": [{"name": "t", "endpoints": [{"backend": "fake"}]}], "log": {"path": str(tmp_path / "l.db")}})
    store = store_factory(store_name(s))(s)
    try:
        assert type(store).__name__ == "SQLiteStore"
    finally:
        store.close()
    with pytest.raises(ConfigError, match=r"log\.store = 'postgres' needs log\.url"):
        store_factory("postgres")(s)
