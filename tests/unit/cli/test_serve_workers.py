"""`smallfirst serve`: how many workers, and what the supervisor hands them (no server is started)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smallfirst.cli.main import build
from smallfirst.core.errors import ConfigError
from smallfirst.server import workers as sup
from smallfirst.server.factory import settings_from_env

CONFIG = '[log]\npath = "{db}"\n[[tiers]]\nname = "local"\nendpoints = [{{backend = "fake", model = "echo"}}]\n'


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace the supervisor and the HTTP servers: record what `serve` would have run."""
    import uvicorn

    from smallfirst.server.lean import LeanServer

    got: dict[str, Any] = {}

    def supervise(n: int, host: str, port: int, env: Any, **kw: Any) -> tuple[int, None]:
        got.update(n=n, host=host, port=port, env=dict(env))
        kw["on_bound"](port)
        return 0, None

    monkeypatch.setattr(sup, "supervise", supervise)
    monkeypatch.setattr(sup, "default_workers", lambda: 3)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, *a, **kw: got.update(n=1, server="uvicorn"))
    monkeypatch.setattr(LeanServer, "run", lambda self, *a, **kw: got.update(n=1, server="lean"))
    return got


def test_default_is_the_machines_cores_and_workers_get_the_settings(tmp_path: Path,
                                                                     captured: dict[str, Any]) -> None:
    cfg = tmp_path / "smallfirst.toml"
    cfg.write_text(CONFIG.format(db=tmp_path / "log.db"))
    result = CliRunner().invoke(build(), ["serve", "--config", str(cfg), "--port", "9123"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert captured["n"] == 3 and captured["port"] == 9123
    assert "workers: 3" in result.stdout
    env = captured["env"]
    assert env["SMALLFIRST_CONFIG"] == str(cfg.resolve())
    assert json.loads(env["SMALLFIRST_SERVER"]) == {"host": "127.0.0.1", "port": 9123, "workers": 3}
    settings = settings_from_env(env)  # what each worker loads: the file, with the server overrides
    assert settings.server.workers == 3 and settings.server.port == 9123 and list(settings.tier_names) == ["local"]


def test_workers_1_serves_in_process_and_config_sets_the_default(tmp_path: Path, captured: dict[str, Any]) -> None:
    cfg = tmp_path / "smallfirst.toml"
    cfg.write_text("[server]\nworkers = 2\n" + CONFIG.format(db=tmp_path / "log.db"))
    assert CliRunner().invoke(build(), ["serve", "--config", str(cfg), "--workers", "1"]).exit_code == 0
    assert captured["n"] == 1 and captured["server"] == "lean"
    captured.clear()
    cfg.write_text("[server]\nworkers = 2\nhttp = \"uvicorn\"\n" + CONFIG.format(db=tmp_path / "log.db"))
    assert CliRunner().invoke(build(), ["serve", "--config", str(cfg), "--workers", "1"]).exit_code == 0
    assert captured["n"] == 1 and captured["server"] == "uvicorn"
    captured.clear()
    assert CliRunner().invoke(build(), ["serve", "--config", str(cfg)]).exit_code == 0
    assert captured["n"] == 2


def test_bad_server_overrides_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="SMALLFIRST_SERVER must be a JSON object"):
        settings_from_env({"SMALLFIRST_SERVER": "[1]"})
