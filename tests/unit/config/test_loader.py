from __future__ import annotations

from pathlib import Path

import pytest

from smallfirst.config.loader import load, parse
from smallfirst.core.errors import ConfigError


def test_defaults_have_one_local_embedded_tier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load(None)
    assert s.tier_names == ("local",)
    assert s.tiers[0].endpoints[0].backend == "embedded"
    assert s.tiers[0].is_local


def test_misspelt_key_names_the_path_and_suggests(tmp_path: Path) -> None:
    p = tmp_path / "smallfirst.toml"
    p.write_text('[[tiers]]\nname = "local"\n[[tiers.endpoints]]\nbackend = "fake"\nmodle = "x"\n')
    with pytest.raises(ConfigError) as ei:
        load(p)
    line = ei.value.one_line()
    assert "tiers[0].endpoints[0].modle" in line
    assert "did you mean 'model'" in line


def test_unknown_section_lists_allowed_keys() -> None:
    with pytest.raises(ConfigError) as ei:
        parse({"zzz": {}})
    assert "unknown key 'zzz'" in ei.value.one_line()
    assert "allowed keys here" in ei.value.one_line()


def test_api_key_must_be_an_env_var_name() -> None:
    with pytest.raises(ConfigError) as ei:
        parse({"tiers": [{"name": "f", "endpoints": [{"backend": "openai", "api_key_env": "sk-abc-123"}]}]})
    assert "sk-abc-123" not in ei.value.one_line() or "api_key_env" in ei.value.one_line()
    assert "environment variable" in ei.value.one_line()


def test_duplicate_tier_names_rejected() -> None:
    ep = {"backend": "fake", "model": "a"}
    with pytest.raises(ConfigError, match="used twice"):
        parse({"tiers": [{"name": "a", "endpoints": [ep]}, {"name": "a", "endpoints": [ep]}]})


def test_any_number_of_named_tiers_in_order() -> None:
    ep = {"backend": "fake", "model": "m"}
    s = parse({"tiers": [{"name": n, "endpoints": [ep]} for n in ("tiny", "small", "big", "huge")]})
    assert s.tier_names == ("tiny", "small", "big", "huge")


def test_bad_toml_is_one_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[server\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "nope.toml")


def test_locality_inferred_from_the_url_host() -> None:
    s = parse({"tiers": [
        {"name": "local", "endpoints": [{"backend": "openai_compat", "model": "m", "base_url": "http://127.0.0.1:9/v1"}]},
        {"name": "frontier", "endpoints": [{"backend": "openai", "model": "gpt-4o"}]},
    ]})
    assert s.tiers[0].is_local
    assert not s.tiers[1].is_local


def test_http_client_choice_reaches_the_backend() -> None:
    from smallfirst.backends.openai_compat import from_config

    def endpoint(**kw: str) -> dict[str, object]:
        return {"tiers": [{"name": "local", "endpoints": [{"backend": "vllm", "model": "m",
                                                           "base_url": "http://127.0.0.1:9/v1", **kw}]}]}

    lean = from_config(parse(endpoint()).tiers[0].endpoints[0])
    plain = from_config(parse(endpoint(http_client="aiohttp")).tiers[0].endpoints[0])
    assert lean._http._raw_url is not None and plain._http._raw_url is None  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="http_client"):
        parse(endpoint(http_client="httpx"))
