"""`smallfirst cascade calibrate` end to end through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smallfirst.cli.main import build, main
from smallfirst.routing.outcomes import Outcome, write_outcomes

runner = CliRunner()
LOCAL = [(0.95, 1), (0.9, 1), (0.8, 1), (0.7, 0), (0.6, 1), (0.5, 0), (0.4, 0), (0.3, 1), (0.2, 0), (0.1, 0)]


@pytest.fixture
def outcomes(tmp_path: Path) -> Path:
    rows = []
    for i, (conf, ok) in enumerate(LOCAL):
        rows.append(Outcome(f"p{i}", f"q{i}", "local", float(ok), cost_usd=0.0, confidence=conf, task="t"))
        rows.append(Outcome(f"p{i}", f"q{i}", "frontier", 1.0, cost_usd=0.01, task="t"))
    path = tmp_path / "o.jsonl"
    write_outcomes(path, rows)
    return path


def test_calibrate_prints_threshold_share_and_writes_json_and_png(outcomes: Path, tmp_path: Path) -> None:
    out, png = tmp_path / "cal.json", tmp_path / "cal.png"
    result = runner.invoke(build(), ["cascade", "calibrate", str(outcomes), "--quality", "0.9", "--per-task",
                                     "--out", str(out), "--plot", str(png)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, (result.output, result.exception)
    assert "min_confidence = 0.6000" in result.stdout and "50.0%" in result.stdout
    d = json.loads(out.read_text())
    assert d["overall"]["threshold"] == pytest.approx(0.6) and d["overall"]["upper"] == "frontier"
    assert d["tasks"]["t"]["n"] == 10
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unmet_target_exits_nonzero(tmp_path: Path) -> None:
    path = tmp_path / "wrong.jsonl"
    write_outcomes(path, [Outcome(f"p{i}", "q", "local", 0.0, confidence=i / 10) for i in range(5)])
    result = runner.invoke(build(), ["cascade", "calibrate", str(path), "--quality", "0.5"], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "NO" in result.stdout


def test_unknown_upper_tier_is_an_error(outcomes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cascade", "calibrate", str(outcomes), "--upper", "none-such"]) == 1
    assert "none-such" in capsys.readouterr().err


def test_bad_input_is_one_line_and_an_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cascade", "calibrate", str(tmp_path / "missing.jsonl")]) == 1
    assert "not found" in capsys.readouterr().err
    plain = tmp_path / "plain.jsonl"
    write_outcomes(plain, [Outcome("a", "a", "local", 1.0)])
    assert main(["cascade", "calibrate", str(plain)]) == 1
    assert "no outcome row has a confidence" in capsys.readouterr().err


def test_json_flag_prints_only_json_to_stdout(outcomes: Path) -> None:
    result = runner.invoke(build(), ["cascade", "calibrate", str(outcomes), "--quality", "0.9", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert json.loads(result.stdout)["overall"]["threshold"] == pytest.approx(0.6)
