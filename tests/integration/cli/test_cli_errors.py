"""The CLI's conventions as a user meets them: exit codes, one-line errors, "did you mean", --version."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.cli.conftest import Run


def one_line_error(p: subprocess.CompletedProcess[str]) -> str:
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr and "│" not in p.stderr
    assert lines[0].startswith("smallfirst: error: ")
    return lines[0]


def test_version(cli: Run) -> None:
    from importlib.metadata import version

    p = cli("--version")
    assert p.returncode == 0 and p.stdout.strip() == f"smallfirst {version('smallfirst')}"
    assert p.stderr == ""


@pytest.mark.parametrize(("args", "expected"), [
    (("bogus",), "No such command 'bogus'"),
    (("serv",), "Did you mean 'serve'?"),
    (("router", "trian"), "Did you mean 'train'?"),
    (("--verison",), "did you mean --version?"),
    (("eval", "--quite", "t.jsonl"), "--quiet"),
    (("eval", "--concurrency", "0", "t.jsonl"), "'--concurrency'"),
    (("eval", "--max-tokens", "many", "t.jsonl"), "'--max-tokens'"),
    (("router", "train"), "Missing argument"),
    (("eval", "--tiers"), "requires an argument"),
])
def test_usage_errors_exit_2_with_one_line_and_a_hint(cli: Run, args: tuple[str, ...], expected: str) -> None:
    p = cli(*args)
    assert p.returncode == 2, p.stderr
    line = one_line_error(p)
    assert expected in line
    assert "--help'" in line  # where to look


def test_two_modes_at_once_is_a_usage_error(cli: Run) -> None:
    p = cli("eval", "t.jsonl", "--report", "runs/x")
    assert p.returncode == 2
    assert "exactly one" in one_line_error(p)


def test_runtime_error_exits_1_with_one_line(cli: Run) -> None:
    p = cli("eval", "missing.jsonl")
    assert p.returncode == 1
    line = one_line_error(p)
    assert "'missing.jsonl' not found" in line and "README" in line


def test_debug_shows_the_traceback(cli: Run) -> None:
    for args in (("--debug", "eval", "missing.jsonl"), ("eval", "missing.jsonl", "--debug")):
        p = cli(*args)
        assert p.returncode == 1
        assert "Traceback (most recent call last)" in p.stderr and "BadRequestError" in p.stderr


def test_config_mistake_exits_2_and_names_the_close_backend(cli: Run, tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    (tmp_path / "bad.toml").write_text('[[tiers]]\nname = "local"\n[[tiers.endpoints]]\nbackend = "embeded"\n')
    p = cli("config", "validate", "bad.toml")
    assert p.returncode == 2
    assert "did you mean 'embedded'?" in one_line_error(p)


def test_no_arguments_prints_help(cli: Run) -> None:
    p = cli()
    assert p.returncode == 0 and "Commands:" in p.stdout and "--version" in p.stdout


def test_flag_help_shows_no_type(cli: Run) -> None:
    """typer 0.29's rich panel printed `<bool>` after every flag; the plain help lists flags bare."""
    p = cli("eval", "--help")
    assert p.returncode == 0
    assert "<bool>" not in p.stdout
    assert "--no-logprobs" in p.stdout and "<int range>" in p.stdout
