"""Building backends from config: presets, registry names, API keys (never shown), config errors."""

from __future__ import annotations

import asyncio

import pytest

from smallfirst.backends.anthropic import AnthropicBackend
from smallfirst.backends.fake import FakeBackend
from smallfirst.backends.ollama import OllamaBackend
from smallfirst.backends.openai_compat import OpenAICompatBackend
from smallfirst.backends.presets import PRESETS, preset
from smallfirst.config.registry import BUILTIN_BACKENDS, backend_factory
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.errors import ConfigError, UpstreamAuthError
from smallfirst.core.protocols import Backend
from smallfirst.core.types import ChatRequest

MSG = [{"role": "user", "content": "hi"}]
REQ = ChatRequest(model="m", messages=MSG, body={"model": "m", "messages": MSG})


@pytest.mark.parametrize(
    ("name", "url"),
    [("ollama", "http://127.0.0.1:11434/v1"), ("lmstudio", "http://127.0.0.1:1234/v1"),
     ("llamacpp", "http://127.0.0.1:8080/v1"), ("vllm", "http://127.0.0.1:8000/v1"),
     ("openai", "https://api.openai.com/v1"), ("openrouter", "https://openrouter.ai/api/v1"),
     ("gemini", "https://generativelanguage.googleapis.com/v1beta/openai")],
)
def test_preset_default_urls(name: str, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for p in PRESETS.values():
        if p.api_key_env:
            monkeypatch.setenv(p.api_key_env, "k-test")
    backend = backend_factory(name)(EndpointConfig(backend=name, model="m"))
    assert isinstance(backend, OpenAICompatBackend)
    assert backend.base_url == url
    cfg = EndpointConfig(backend=name, model="m")
    assert cfg.is_local == url.startswith("http://127.0.0.1")  # the default URL's host, not the preset's name


def test_every_builtin_name_builds_a_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    for name in BUILTIN_BACKENDS:
        cfg = EndpointConfig(backend=name, model="m", base_url="http://127.0.0.1:1/v1" if name == "openai_compat"
                             else None)
        backend = backend_factory(name)(cfg)
        assert isinstance(backend, Backend), name
        assert getattr(backend, "cfg", None) is cfg  # the engine reads price overrides from here
        # a generic server's window is unknown until health() reads its /models listing
        assert (backend.capabilities.context_window is None) == (name == "openai_compat"), name


def test_generic_openai_compat_needs_base_url() -> None:
    with pytest.raises(ConfigError) as exc:
        backend_factory("openai_compat")(EndpointConfig(backend="openai_compat", model="m"))
    assert "base_url" in exc.value.message and "base_url" in exc.value.hint


@pytest.mark.parametrize("name", ["openai_compat", "ollama_native", "anthropic"])
def test_model_is_required(name: str) -> None:
    with pytest.raises(ConfigError, match="needs model"):
        backend_factory(name)(EndpointConfig(backend=name, base_url="http://127.0.0.1:1"))


def test_context_window_override_wins_over_preset() -> None:
    b = backend_factory("llamacpp")(EndpointConfig(backend="llamacpp", model="m", context_window=32768))
    assert b.capabilities.context_window == 32768
    assert preset("llamacpp").capabilities.context_window != 32768


def test_unknown_preset_name_falls_back_to_generic() -> None:
    assert preset("some-plugin").name == "openai_compat"


def test_key_is_read_from_the_named_env_var_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM_OPENAI_KEY", "sk-team-VERYSECRET")
    b = backend_factory("openai")(EndpointConfig(backend="openai", model="gpt-4o-mini", api_key_env="TEAM_OPENAI_KEY"))
    assert isinstance(b, OpenAICompatBackend)
    assert b._http._headers["Authorization"] == "Bearer sk-team-VERYSECRET"
    assert "VERYSECRET" not in repr(b) and "VERYSECRET" not in repr(b._http) and "VERYSECRET" not in repr(b._ctx)
    monkeypatch.setenv("TEAM_OPENAI_KEY", "changed")  # read once, at construction
    assert b._http._headers["Authorization"] == "Bearer sk-team-VERYSECRET"


def test_missing_key_fails_fast_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    b = backend_factory("openai")(EndpointConfig(backend="openai", model="gpt-4o-mini"))
    with pytest.raises(UpstreamAuthError) as exc:
        asyncio.run(b.complete(REQ))
    assert "OPENAI_API_KEY" in exc.value.message and "export OPENAI_API_KEY" in exc.value.hint
    health = asyncio.run(b.health())
    assert health["ok"] is False and "OPENAI_API_KEY" in health["error"]


def test_local_presets_need_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    b = backend_factory("ollama")(EndpointConfig(backend="ollama", model="llama3.2"))
    assert isinstance(b, OpenAICompatBackend)
    assert "Authorization" not in b._http._headers and b._missing_key is None


def test_anthropic_key_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-XYZSECRET")
    b = backend_factory("anthropic")(EndpointConfig(backend="anthropic", model="claude-x"))
    assert isinstance(b, AnthropicBackend)
    assert b._http._headers["x-api-key"] == "sk-ant-XYZSECRET"
    assert b._http._headers["anthropic-version"]
    assert "XYZSECRET" not in repr(b)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(UpstreamAuthError, match="ANTHROPIC_API_KEY"):
        asyncio.run(backend_factory("anthropic")(EndpointConfig(backend="anthropic", model="claude-x")).complete(REQ))


def test_ollama_native_accepts_a_v1_url_by_mistake() -> None:
    b = backend_factory("ollama_native")(EndpointConfig(backend="ollama_native", model="m",
                                                        base_url="http://127.0.0.1:11434/v1"))
    assert isinstance(b, OllamaBackend) and b.base_url == "http://127.0.0.1:11434"


def test_fake_registry_entry() -> None:
    assert isinstance(backend_factory("fake")(EndpointConfig(backend="fake", model="echo")), FakeBackend)
