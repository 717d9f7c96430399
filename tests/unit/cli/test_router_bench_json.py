"""`smallfirst router bench --json`: the summary on stdout, nothing else there."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from smallfirst.cli.main import build

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_bench_json_on_the_bundled_sample(tmp_path: Path) -> None:
    result = CliRunner().invoke(build(), ["router", "bench", str(EXAMPLES / "outcomes.jsonl"), "--routers",
                                          "length,rules", "--folds", "2", "--out-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    summary = json.loads(result.stdout)
    assert summary["tiers"] == ["local", "frontier"]
    assert (tmp_path / "router-bench-outcomes.json").is_file()
