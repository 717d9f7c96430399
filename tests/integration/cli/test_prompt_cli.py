"""`smallfirst prompt`: one answer through the routing, in-process, with the bundled model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.cli.conftest import Run

pytestmark = pytest.mark.slow


def test_prompt_argument_stdin_and_json(cli: Run, tmp_path: Path) -> None:
    p = cli("prompt", "Name three primary colours.", "--max-tokens", "16")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip()
    assert p.stderr.strip().startswith("[local · smollm2-135m · rules:")
    p = cli("prompt", "--json", "--max-tokens", "8", stdin="What is 2 + 2?")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["tier"] == "local" and out["reason"].startswith("rules:") and out["answer"]
    assert out["usage"]["completion_tokens"] <= 8
    assert (tmp_path / "smallfirst.db").exists()  # logged like a gateway request


def test_prompt_errors(cli: Run) -> None:
    p = cli("prompt", stdin="")
    assert p.returncode == 2 and "the prompt is empty" in p.stderr
    p = cli("prompt", "hi", "--model", "smallfirst/nope", "--max-tokens", "4")
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
