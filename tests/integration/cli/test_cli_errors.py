"""The CLI's conventions as a user meets them: exit codes, one-line errors, "did you mean", --version."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.cli.conftest import Run

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


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
    (("router", "trian"), "Did you mean 'train', 'retrain'?"),
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


def test_config_mistake_exits_2_and_names_the_close_backend(cli: Run, tmp_path: Path) -> None:
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


def test_misspelt_tier_and_model_get_did_you_mean(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text('[[tiers]]\nname = "local"\n[[tiers.endpoints]]\nbackend = "fake"\n'
                                     'model = "echo"\n')
    (tmp_path / "tasks.jsonl").write_text('{"prompt": "hi", "expected": "hi"}\n')
    p = cli("eval", "tasks.jsonl", "-c", "t.toml", "--tiers", "lcal")
    assert p.returncode == 1 and "did you mean 'local'?" in one_line_error(p)
    p = cli("prompt", "hi", "-c", "t.toml", "--model", "smallfirst/lcal")
    assert p.returncode == 1 and "did you mean 'smallfirst/local'?" in one_line_error(p)
    p = cli("router", "train", str(EXAMPLES / "outcomes.jsonl"), "--tiers", "lcal,frontier")
    assert p.returncode == 1 and "did you mean 'local'?" in one_line_error(p)


def test_one_tier_outcomes_explain_what_training_needs(cli: Run, tmp_path: Path) -> None:
    rows = [line for line in (EXAMPLES / "outcomes.jsonl").read_text().splitlines() if '"tier": "local"' in line]
    (tmp_path / "one.jsonl").write_text("\n".join(rows[:40]) + "\n")
    for verb in ("train", "bench"):
        p = cli("router", verb, "one.jsonl")
        assert p.returncode == 1
        line = one_line_error(p)
        assert "needs outcomes for at least two tiers" in line and "examples/outcomes.jsonl" in line


def test_eval_names_the_config_it_picks_up_and_fails_loudly(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "smallfirst.toml").write_text('[[tiers]]\nname = "local"\n[[tiers.endpoints]]\n'
                                              'backend = "openai_compat"\nbase_url = "http://127.0.0.1:9/v1"\n'
                                              'model = "m"\n')
    p = cli("eval", str(EXAMPLES / "tasks.jsonl"), "--run", "r", "--retries", "0", "-q")
    assert p.returncode == 1
    assert "using ./smallfirst.toml from the current folder" in p.stderr
    assert "8 of 8 failed; why:" in p.stderr and "cannot connect to http://127.0.0.1:9/v1" in p.stderr
    assert p.stderr.strip().splitlines()[-1] == "smallfirst: error: every task failed on every tier (reasons above)"


def test_absurd_max_tokens_is_refused(cli: Run, tmp_path: Path) -> None:
    p = cli("eval", str(EXAMPLES / "tasks.jsonl"), "--max-tokens", "100000000")
    assert p.returncode == 2 and "'--max-tokens'" in one_line_error(p)
    (tmp_path / "big.jsonl").write_text('{"prompt": "hi", "expected": "hi", "request": {"max_tokens": 100000000}}\n')
    p = cli("eval", "big.jsonl")
    assert p.returncode == 1 and "more than any model writes" in one_line_error(p)


def test_report_json_prints_to_stdout(cli: Run, tmp_path: Path) -> None:
    import json

    (tmp_path / "t.toml").write_text('[[tiers]]\nname = "local"\n[[tiers.endpoints]]\nbackend = "fake"\n'
                                     'model = "echo"\n')
    assert cli("prompt", "hello", "-c", "t.toml").returncode == 0  # one logged request
    p = cli("report", "-c", "t.toml", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["totals"]["requests"] == 1
    p = cli("report", "-c", "t.toml", "--json", "old.json")
    assert p.returncode == 0 and (tmp_path / "old.json").is_file()
    assert "deprecated: use '--out old.json'" in p.stderr
