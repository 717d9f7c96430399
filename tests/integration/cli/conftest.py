"""Run the installed `smallfirst` command as a user does: a subprocess, its exit code, stdout and stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


def smallfirst_argv() -> list[str]:
    script = Path(sys.executable).parent / "smallfirst"
    return [str(script)] if script.exists() else [sys.executable, "-m", "smallfirst.cli.main"]


@pytest.fixture
def cli(tmp_path: Path) -> Run:
    """``cli("eval", "x.jsonl")`` runs ``smallfirst eval x.jsonl`` in a fresh folder (no config there)."""

    def run(*args: str, stdin: str | None = None, timeout: float = 60, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "COLUMNS": "100", "SMALLFIRST_CACHE_DIR": str(tmp_path / ".cache"),
                    **(env or {})}
        full_env.pop("SMALLFIRST_DEBUG", None)
        return subprocess.run([*smallfirst_argv(), *args], input=stdin, capture_output=True, text=True,
                              timeout=timeout, cwd=cwd or tmp_path, env=full_env, check=False)

    return run
