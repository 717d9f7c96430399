"""`smallfirst models` and `models use`: list what the config serves, switch the local model offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smallfirst.cli.main import main
from smallfirst.config.loader import load

CONFIG = """# written by hand
[routing]
router = "rules"

[[tiers]]
name = "local"

[[tiers.endpoints]]
backend = "embedded"
model = "smollm2-135m-instruct"   # the bundled one
n_ctx = 2048

# a second endpoint of the local tier: kept as it is
[[tiers.endpoints]]
backend = "ollama"
model = "qwen3:4b"

# tier 'frontier' needs OPENAI_API_KEY
# [[tiers]]
# name = "frontier"
"""


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "smallfirst.toml"
    path.write_text(CONFIG)
    return path


def test_use_a_gguf_then_ollama_then_bundled_keeps_every_other_line(cfg: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    gguf = tmp_path / "my-model.gguf"
    gguf.write_bytes(b"GGUF")  # `use` checks the file is there; loading it is serve's job
    assert main(["models", "use", str(gguf)]) == 0
    ep = load(cfg).tiers[0].endpoints
    assert (ep[0].backend, ep[0].model, ep[0].model_path) == ("embedded", "my-model", str(gguf))
    assert (ep[1].backend, ep[1].model) == ("ollama", "qwen3:4b")
    text = cfg.read_text()
    assert text.startswith("# written by hand\n") and "# a second endpoint of the local tier" in text
    assert "# tier 'frontier' needs OPENAI_API_KEY" in text
    assert (tmp_path / "smallfirst.toml.bak").read_text() == CONFIG
    assert "tier local now serves" in capsys.readouterr().out
    assert main(["models", "use", "ollama:llama3.2:3b"]) == 0
    assert load(cfg).tiers[0].endpoints[0].model == "llama3.2:3b"
    assert main(["models", "use", "bundled", "-c", str(cfg)]) == 0
    first = load(cfg).tiers[0].endpoints[0]
    assert (first.backend, first.model, first.model_path) == ("embedded", "smollm2-135m-instruct", None)


def test_list_as_json(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["tier"], r["backend"], r["model"]) for r in rows] == [
        ("local", "embedded", "smollm2-135m-instruct"), ("local", "ollama", "qwen3:4b")]
    assert rows[0]["status"] == "ready (in-process)"


@pytest.mark.parametrize(("args", "code", "needle"), [
    (["models", "use", "llama3"], 2, "cannot tell what model 'llama3' is"),
    (["models", "use", "/no/such.gguf"], 1, "not found"),
    (["models", "use", "bundled", "-c", "missing.toml"], 1, "'missing.toml' not found"),
])
def test_errors(cfg: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, needle: str) -> None:
    assert main(args) == code
    err = capsys.readouterr().err
    assert err.startswith("smallfirst: error:") and needle in err and err.count("\n") == 1
    assert cfg.read_text() == CONFIG


def test_inline_endpoints_are_not_guessed_at(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "inline.toml"
    path.write_text('[[tiers]]\nname = "local"\nendpoints = [{backend = "embedded"}]\n\n'
                    '[[tiers]]\nname = "mid"\n\n[[tiers.endpoints]]\nbackend = "ollama"\nmodel = "x"\n')
    before = path.read_text()
    assert main(["models", "use", "ollama:llama3.2:3b", "-c", str(path)]) == 1
    assert "not the lowest tier's first endpoint" in capsys.readouterr().err
    assert path.read_text() == before
