"""An outcome row with ``"score": null`` (not graded) is skipped and counted, not refused as "missing"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smallfirst.cli.main import build
from smallfirst.core.errors import BadRequestError
from smallfirst.routing.outcomes import read_outcomes


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_null_scores_are_skipped_with_their_line_numbers(tmp_path: Path) -> None:
    f = write(tmp_path / "o.jsonl", [
        {"prompt_id": "a", "prompt": "x", "tier": "local", "score": 1},
        {"prompt_id": "a", "prompt": "x", "tier": "frontier", "score": None},
        {"prompt_id": "b", "prompt": "y", "tier": "local", "score": 0.5}])
    skipped: list[int] = []
    rows = read_outcomes(f, skipped)
    assert [r.prompt_id for r in rows] == ["a", "b"] and skipped == [2]
    with pytest.raises(BadRequestError, match="missing required field 'score'"):
        read_outcomes(write(tmp_path / "bad.jsonl", [{"prompt_id": "a", "prompt": "x", "tier": "local"}]))


def test_router_bench_says_how_many_rows_it_skipped(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = []
    for i in range(40):
        rows.append({"prompt_id": f"p{i}", "prompt": f"question {i} " * (1 + i % 5), "tier": "local",
                     "score": float(i % 3 == 0)})
        rows.append({"prompt_id": f"p{i}", "prompt": f"question {i} " * (1 + i % 5), "tier": "frontier",
                     "score": None if i == 7 else 1.0})
    f = write(tmp_path / "o.jsonl", rows)
    res = CliRunner().invoke(build(), ["router", "bench", str(f), "--routers", "length", "--folds", "2",
                                   "--out-dir", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    assert "skipped 1 row(s) with a null score" in res.output
