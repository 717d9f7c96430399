"""`smallfirst finetune …` through the real CLI app: export from a log file and from a task file, and the
one-line errors (exit codes) for what cannot be done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smallfirst.cli.main import build, main
from smallfirst.store.sqlite import SQLiteStore
from tests.fakes.tiny_gguf import write_tiny_gguf
from tests.helpers.finetune import escalated, sentiment_prompts, write_task_file

runner = CliRunner()


def test_export_from_the_log_file(tmp_path: Path) -> None:
    tiny = write_tiny_gguf(tmp_path / "tiny.gguf")
    store = SQLiteStore(str(tmp_path / "log.db"))
    for i, (p, a) in enumerate(sentiment_prompts(12)):
        store.record(escalated(i, p, a, task_type="classify" if i % 3 else "extract"))
    store.record(escalated(50, "hi ann@example.com", "label=yes", sensitive=("pii",)))
    store.close()
    out = tmp_path / "data"
    res = runner.invoke(build(), ["finetune", "export", "--log", str(tmp_path / "log.db"), "--base", str(tiny),
                                  "--out", str(out), "--task-type", "classify"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, (res.output, res.exception)
    assert "read 13 rows: 8 examples" in res.stdout and "sensitive 1" in res.stdout
    card = json.loads((out / "card.json").read_text())
    assert card["source"]["kind"] == "log" and card["source"]["task_types"] == ["classify"]
    assert card["source"]["path"] == str(tmp_path / "log.db") and card["source"]["url"] is None
    assert card["counts"]["excluded"] == {"task_type_not_selected": 4, "sensitive": 1}
    assert "## Provenance" in (out / "card.md").read_text()


def test_export_from_a_task_file(tmp_path: Path) -> None:
    tiny = write_tiny_gguf(tmp_path / "tiny.gguf")
    tasks = write_task_file(tmp_path / "t.jsonl", sentiment_prompts(10))
    res = runner.invoke(build(), ["finetune", "export", "--tasks", str(tasks), "--base", str(tiny),
                                  "--out", str(tmp_path / "d"), "--heldout", "0.3"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, (res.output, res.exception)
    card = json.loads((tmp_path / "d" / "card.json").read_text())
    assert card["counts"]["train"] + card["counts"]["heldout"] == 10 and card["counts"]["heldout"] >= 1


def test_errors_are_one_line_with_a_nonzero_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny = write_tiny_gguf(tmp_path / "tiny.gguf")
    assert main(["finetune", "export", "--log", str(tmp_path / "none.db"), "--base", str(tiny)]) == 2
    assert "smallfirst: error: no request log at" in capsys.readouterr().err
    assert main(["finetune", "export", "--tasks", str(tmp_path / "t.jsonl"), "--log", "x.db", "--base",
                 str(tiny)]) == 1
    assert "--tasks exports a task file" in capsys.readouterr().err
    assert main(["finetune", "gate", str(tmp_path / "norun")]) == 1
    assert "has no train.json" in capsys.readouterr().err
    assert main(["finetune", "deploy", str(tmp_path / "norun"), "--to", str(tmp_path / "m")]) == 1
    assert "run `smallfirst finetune run` first" in capsys.readouterr().err
    assert main(["finetune", "rollback", "--to", str(tmp_path / "m")]) == 1
    assert "no promotion history" in capsys.readouterr().err
    assert main(["finetune", "export", "--tasks", str(write_task_file(tmp_path / "t.jsonl", [])), "--base",
                 str(tiny)]) == 1
    assert "has no tasks" in capsys.readouterr().err
    assert main(["finetune", "run", "--base", str(tiny), "--quant", "8bit"]) == 1
    assert "--quant '8bit': use auto, 4bit or none" in capsys.readouterr().err
    assert main(["finetune", "run", "--base", str(tiny), "--data", str(tmp_path / "nodata")]) == 1
    assert "no data card" in capsys.readouterr().err
