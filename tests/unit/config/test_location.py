"""Where an endpoint is: from its URL host, never from its backend name (smallfirst.config.location)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smallfirst.cli.main import build
from smallfirst.config.loader import parse
from smallfirst.config.location import NATIVE_DEFAULT_URLS, resolve_location
from smallfirst.config.schema import EndpointConfig, Settings
from smallfirst.core.errors import ConfigError
from smallfirst.core.types import FREE
from smallfirst.pipeline import price_of
from smallfirst.policy.residency import locations_from_settings


def ep(backend: str, base_url: str | None = None, location: str | None = None, **kw: Any) -> EndpointConfig:
    return EndpointConfig(backend=backend, model=kw.pop("model", "m"), base_url=base_url, location=location, **kw)


def settings(*endpoints: dict[str, Any]) -> Settings:
    return parse({"tiers": [{"name": f"t{i}", "endpoints": [e]} for i, e in enumerate(endpoints)]})


@pytest.mark.parametrize(("backend", "url"), [
    ("embedded", None), ("fake", None),
    ("ollama", None), ("lmstudio", None), ("llamacpp", None), ("vllm", None), ("ollama_native", None),
    ("ollama", "http://localhost:11434"), ("ollama", "http://LOCALHOST.:11434/v1"),
    ("openai_compat", "http://127.0.0.1:9/v1"), ("openai_compat", "http://127.8.9.10:9/v1"),
    ("openai_compat", "http://[::1]:9/v1"), ("openai_compat", "http://[::ffff:127.0.0.1]:9/v1"),
    ("openai", "http://127.0.0.1:9/v1"),  # a backend name never makes an endpoint remote either
    ("ollama_native", "unix:/run/ollama.sock"), ("openai_compat", "http+unix://%2Frun%2Fllm.sock/v1"),
])
def test_on_this_host(backend: str, url: str | None) -> None:
    r = resolve_location(ep(backend, url))
    assert (r.location, r.on_host, r.warning) == ("local", True, None)
    assert ep(backend, url).is_local and price_of(ep(backend, url)) == FREE


@pytest.mark.parametrize(("backend", "url", "host"), [
    ("vllm", "http://10.1.2.3:8000/v1", "10.1.2.3"),
    ("ollama", "http://192.168.1.20:11434/v1", "192.168.1.20"),
    ("lmstudio", "http://gpu-box.lan:1234/v1", "gpu-box.lan"),
    ("llamacpp", "https://llm.example.com/v1", "llm.example.com"),
    ("ollama_native", "http://[fd00::5]:11434", "fd00::5"),
    ("openai", None, "api.openai.com"), ("anthropic", None, "api.anthropic.com"),
    ("fake", "http://10.0.0.9:1", "10.0.0.9"),  # fake with a URL: the URL decides
])
def test_off_this_host_is_remote_whatever_the_backend(backend: str, url: str | None, host: str) -> None:
    r = resolve_location(ep(backend, url), key="tiers[1].endpoints[0].location")
    assert (r.location, r.on_host, r.warning) == ("remote", False, None)
    assert f"host {host} is not loopback" in r.why
    if url is not None:
        assert 'set tiers[1].endpoints[0].location = "site" if it is your own machine' in r.why
    assert not ep(backend, url).is_local


def test_why_names_the_host() -> None:
    assert resolve_location(ep("ollama", "http://localhost:11434")).why == "host localhost is loopback"
    assert resolve_location(ep("ollama")).why == "host 127.0.0.1 is loopback, from the ollama default URL"
    assert resolve_location(ep("embedded")).why == "backend embedded runs in-process"


@pytest.mark.parametrize(("url", "what"), [
    ("http://0.0.0.0:8000/v1", "unspecified"), ("http://[::]:8000/v1", "unspecified"),
    ("http://gpubox:8000/v1", "bare name"), ("http://2130706433:8000/v1", "canonical IP"),
    ("http://127.1:8000/v1", "canonical IP"), ("localhost:8000/v1", "no host"), ("http://[::1:8000/v1", "no host"),
])
def test_ambiguous_hosts_fail_closed_with_a_warning(url: str, what: str) -> None:
    r = resolve_location(ep("vllm", url), key="tiers[2].endpoints[1].location")
    assert (r.location, r.on_host) == ("remote", False)
    assert r.warning is not None and what in r.warning and "tiers[2].endpoints[1].location" in r.warning
    assert "fail closed" in r.warning


@pytest.mark.parametrize("loc", ["site", "eu", "us", "remote"])
@pytest.mark.parametrize("url", ["http://127.0.0.1:9/v1", "http://10.1.2.3:8000/v1", "http://gpubox:8000/v1", None])
def test_a_declared_location_other_than_local_never_counts_as_local(loc: str, url: str | None) -> None:
    cfg = ep("vllm", url, loc)
    r = resolve_location(cfg)
    assert (r.location, r.on_host, r.warning) == (loc, False, None)
    assert not cfg.is_local and price_of(cfg) != FREE


def test_host_is_an_alias_of_local() -> None:
    for loc in ("host", "local"):
        r = resolve_location(ep("openai_compat", "http://127.0.0.1:9/v1", loc))
        assert (r.location, r.on_host) == ("local", True)
    assert resolve_location(ep("embedded", location="host")).location == "local"


@pytest.mark.parametrize("url", ["http://10.1.2.3:8000/v1", "https://api.openai.com/v1", "http://0.0.0.0:1/v1",
                                 "http://gpubox:8000/v1"])
@pytest.mark.parametrize("loc", ["host", "local"])
def test_local_on_a_url_off_this_host_is_a_config_error(url: str, loc: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings({"backend": "vllm", "model": "m"}, {"backend": "vllm", "model": "m", "base_url": url, "location": loc})
    msg = str(err.value)
    assert "tiers[1].endpoints[0]" in msg and f'location = "{loc}" means this host' in msg
    assert '"site"' in msg and "[residency.classes]" in msg


def test_local_on_a_default_public_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"api\.openai\.com is not loopback"):
        settings({"backend": "openai", "model": "gpt-4o", "location": "host"})


@pytest.mark.parametrize("loc", ["EU", "*", "", "eu west", "x" * 33])
def test_location_names_are_checked(loc: str) -> None:
    with pytest.raises(ConfigError, match="lower-case name"):
        settings({"backend": "fake", "model": "m", "location": loc})


def test_native_default_urls_match_the_backends() -> None:
    from smallfirst.backends import anthropic, ollama

    assert NATIVE_DEFAULT_URLS == {"ollama_native": ollama.DEFAULT_URL, "anthropic": anthropic.DEFAULT_URL}


def test_prices_free_only_on_this_host() -> None:
    site = ep("vllm", "http://192.168.1.5:8000/v1", "site", model="qwen-own")
    assert price_of(site) is None  # not free, and no catalog price: unknown (cost logged as 0, flagged)
    tunnel = ep("openai_compat", "http://127.0.0.1:9/v1", "us", model="gpt-4o-mini")
    p = price_of(tunnel)
    assert p is not None and p.input_per_mtok > 0 and p.source.startswith("catalog")
    free_site = ep("vllm", "http://192.168.1.5:8000/v1", "site", price_input_per_mtok=0, price_output_per_mtok=0)
    declared = price_of(free_site)
    assert declared is not None and declared.source == "config" and declared.input_per_mtok == 0


def test_residency_locations_and_tier_locality() -> None:
    s = settings({"backend": "ollama", "model": "llama3.2"},
                 {"backend": "vllm", "model": "qwen", "base_url": "http://10.1.2.3:8000/v1"},
                 {"backend": "openai_compat", "model": "m", "base_url": "http://127.0.0.1:9/v1", "location": "us"},
                 {"backend": "lmstudio", "model": "m", "base_url": "http://192.168.1.5:1234/v1", "location": "site"},
                 {"backend": "openai_compat", "model": "m", "base_url": "http://127.0.0.1:9/v1", "location": "host"})
    assert locations_from_settings(s) == {"t0": {"local"}, "t1": {"remote"}, "t2": {"us"}, "t3": {"site"},
                                          "t4": {"local"}}
    assert [t.is_local for t in s.tiers] == [True, False, False, False, True]


def test_build_tiers_carries_the_resolved_location() -> None:
    from smallfirst.pipeline import build_tiers

    s = settings({"backend": "fake", "model": "m"},
                 {"backend": "vllm", "model": "qwen", "base_url": "http://10.1.2.3:8000/v1"},
                 {"backend": "openai_compat", "model": "gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1",
                  "location": "us"})
    got = [(e.is_local, e.location, e.price == FREE) for t in build_tiers(s) for e in t.endpoints]
    assert got == [(True, "local", True), (False, "remote", False), (False, "us", False)]


def test_config_validate_lists_locations_and_warnings(tmp_path: Path) -> None:
    cfg = tmp_path / "smallfirst.toml"
    cfg.write_text('[[tiers]]\nname = "local"\nendpoints = [{backend = "ollama", model = "llama3.2"}]\n'
                   '[[tiers]]\nname = "mid"\nendpoints = [{backend = "vllm", model = "qwen", '
                   'base_url = "http://gpu-box.lan:8000/v1"}, {backend = "vllm", model = "q2", '
                   'base_url = "http://0.0.0.0:8000/v1"}]\n', encoding="utf-8")
    result = CliRunner().invoke(build(), ["config", "validate", str(cfg)], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    assert "local/ollama:llama3.2  → local (host 127.0.0.1 is loopback, from the ollama default URL)" in result.stdout
    assert ('mid/vllm:qwen  → remote (host gpu-box.lan is not loopback; set tiers[1].endpoints[0].location = '
            '"site" if it is your own machine)') in result.stdout
    assert "mid/vllm:q2  → remote (host 0.0.0.0" in result.stdout
    assert "warning: tiers[1].endpoints[1].location: host 0.0.0.0" in result.stderr


def test_config_validate_refuses_local_on_a_remote_url(tmp_path: Path) -> None:
    cfg = tmp_path / "smallfirst.toml"
    cfg.write_text('[[tiers]]\nname = "local"\nendpoints = [{backend = "vllm", model = "qwen", '
                   'base_url = "http://10.1.2.3:8000/v1", location = "host"}]\n', encoding="utf-8")
    result = CliRunner().invoke(build(), ["config", "validate", str(cfg)], env={"COLUMNS": "220"})
    assert result.exit_code != 0 and isinstance(result.exception, ConfigError)
    assert 'location = "host" means this host, but host 10.1.2.3 is not loopback' in str(result.exception)


def test_serve_banner_prints_each_endpoint_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from smallfirst.server import runner

    class NoServer:  # the banner only; no server
        started = should_exit = False

        def run(self, sockets: object = None) -> None:
            return None

    monkeypatch.setattr(runner, "http_server", lambda *a, **kw: NoServer())
    cfg = tmp_path / "smallfirst.toml"
    cfg.write_text(f'[log]\npath = "{tmp_path / "log.db"}"\n'
                   '[[tiers]]\nname = "local"\nendpoints = [{backend = "fake", model = "echo"}]\n'
                   '[[tiers]]\nname = "mid"\nendpoints = [{backend = "vllm", model = "qwen", '
                   'base_url = "http://gpubox:8000/v1"}, {backend = "openai_compat", model = "gpt-4o-mini", '
                   'base_url = "http://127.0.0.1:9/v1", location = "us"}]\n', encoding="utf-8")
    result = CliRunner().invoke(build(), ["serve", "--config", str(cfg), "--workers", "1"], env={"COLUMNS": "220"})
    assert result.exit_code == 0, (result.output, result.exception)
    assert "local/fake:echo  → local (backend fake runs in-process)" in result.stdout
    assert "mid/vllm:qwen  → remote (host gpubox is a bare name" in result.stdout
    assert "mid/openai_compat:gpt-4o-mini  → us (declared us; host 127.0.0.1 is loopback)" in result.stdout
    assert 'warning: tiers[1].endpoints[0].location: host gpubox' in result.stderr
