"""`smallfirst router eval`, and --tier-costs / --model-per-tier / --target-mix / --no-cross-domain on the CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smallfirst.cli.main import build, main
from smallfirst.routing.model import LinearRouterModel
from smallfirst.routing.outcomes import Outcome, read_outcomes, write_outcomes
from smallfirst.routing.routellm import load_routellm

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SAMPLE = str(EXAMPLES / "outcomes.jsonl")


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    art = tmp_path / "r.npz"
    assert main(["router", "train", SAMPLE, "--out", str(art), "--c", "1", "--folds", "3",
                 "--tier-costs", "local=0,frontier=2"]) == 0
    return art


def test_train_stores_tier_costs_and_calibrate_minimises_them(artifact: Path) -> None:
    model = LinearRouterModel.load(artifact)
    assert model.meta["tier_costs"] == {"local": 0.0, "frontier": 2.0} and model.meta["cost_unit"] == "given"
    assert model.oof_costs is not None and set(model.oof_costs[:, 1].tolist()) == {2.0}
    assert model.meta["models"] == {"local": "mistralai/Mixtral-8x7B-Instruct-v0.1",
                                    "frontier": "gpt-4-1106-preview"}
    assert main(["router", "calibrate", "-a", str(artifact), "--quality", "0.95"]) == 0
    doc = json.loads(Path(str(artifact) + ".thresholds.json").read_text(encoding="utf-8"))
    assert doc["expected"]["cost"] == pytest.approx(2.0 * doc["expected"]["mix"]["frontier"], abs=1e-3)


def test_eval_scores_an_artifact_at_its_thresholds(artifact: Path, tmp_path: Path) -> None:
    assert main(["router", "calibrate", "-a", str(artifact), "--target-mix", "local=0.5,frontier=0.5"]) == 0
    res = CliRunner().invoke(build(), ["router", "eval", str(artifact), SAMPLE, "--json"])
    assert res.exit_code == 0, (res.output, res.exception)
    s = json.loads(res.stdout)
    r = s["routers"]["router"]
    assert {"apgr", "auc", "aiq", "cost_95"} <= set(r) and s["routers"]["random"]["apgr"] == pytest.approx(0.5)
    assert len(s["null_band"]["apgr"]) == 2 and "aiq" in s["null_band"]
    at = s["at_thresholds"]
    assert at["method"] == "mix" and at["realised"]["mix"]["local"] == pytest.approx(0.5, abs=0.1)
    assert s["cost_unit"] == "given" and at["realised"]["cost"] == pytest.approx(2 * at["realised"]["mix"]["frontier"])
    assert "quality" in at["random_same_mix"]
    res = CliRunner().invoke(build(), ["router", "eval", str(artifact), SAMPLE, "--out", str(tmp_path / "e.json")])
    assert res.exit_code == 0 and "at the calibrated thresholds" in res.stdout and (tmp_path / "e.json").is_file()


def test_eval_errors_are_one_line_exit_2(artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    three = tmp_path / "three.jsonl"
    write_outcomes(three, [dataclasses.replace(r, tier="mid" if r.tier == "frontier" else r.tier)
                           for r in read_outcomes(SAMPLE)])
    assert main(["router", "eval", str(artifact), str(three)]) == 2
    err = capsys.readouterr().err
    assert "tier mismatch" in err and "frontier" in err and err.count("\n") == 1
    assert main(["router", "eval", str(artifact), str(tmp_path / "none.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["router", "eval", str(tmp_path / "none.npz"), SAMPLE]) == 2
    assert "not found" in capsys.readouterr().err


def test_model_per_tier_on_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows: list[Outcome] = []
    for r in read_outcomes(SAMPLE):
        rows.append(r)
        if r.tier == "local":
            rows.append(dataclasses.replace(r, model="tiny-1b", score=0.0))
    mixed = tmp_path / "mixed.jsonl"
    write_outcomes(mixed, rows)
    assert main(["router", "train", str(mixed), "--out", str(tmp_path / "m.npz")]) == 1
    assert "holds 2 models" in capsys.readouterr().err
    assert main(["router", "train", str(mixed), "--out", str(tmp_path / "m.npz"), "--c", "1", "--folds", "2",
                 "--model-per-tier", "local=tiny"]) == 0
    model = LinearRouterModel.load(tmp_path / "m.npz")
    assert model.meta["models"]["local"] == "tiny-1b" and model.oof_scores is not None
    assert model.oof_scores[:, 0].max() == 0.0
    capsys.readouterr()
    assert main(["router", "eval", str(tmp_path / "m.npz"), str(mixed), "--model-per-tier",
                 "local=mixtral", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tier_quality"]["local"] > 0.5


def test_bench_target_mix_and_no_cross_domain(tmp_path: Path) -> None:
    args = ["router", "bench", SAMPLE, "--routers", "length,rules", "--folds", "2", "--out-dir", str(tmp_path),
            "--json", "--target-mix", "local=0.6,frontier=0.4"]
    res = CliRunner().invoke(build(), args)
    assert res.exit_code == 0, (res.output, res.exception)
    s = json.loads(res.stdout)
    assert set(s["routers"]["length"]["held_out"]) == {"q95", "mix"}
    assert set(s["cross_domain"]["domains"]) == {"routellm/mmlu", "routellm/gsm8k"}
    res = CliRunner().invoke(build(), [*args, "--no-cross-domain"])
    assert res.exit_code == 0 and "cross_domain" not in json.loads(res.stdout)


def test_eval_out_of_domain_on_real_routellm(routellm_dir: Path, tmp_path: Path) -> None:
    rows = load_routellm(["gsm8k"], data_dir=routellm_dir)
    keep = set(sorted({r.prompt_id for r in rows})[:200])
    data = tmp_path / "gsm8k.jsonl"
    write_outcomes(data, [r for r in rows if r.prompt_id in keep])
    art = tmp_path / "g.npz"
    assert main(["router", "train", str(data), "--out", str(art), "--c", "1", "--folds", "3"]) == 0
    assert main(["router", "calibrate", "-a", str(art), "--quality", "0.95"]) == 0
    res = CliRunner().invoke(build(), ["router", "eval", str(art), "routellm:mt-bench", "--data-dir",
                                       str(routellm_dir), "--json"])
    assert res.exit_code == 0, (res.output, res.exception)
    s = json.loads(res.stdout)
    assert 60 < s["n"] <= 80 and s["tiers"] == ["local", "frontier"] and "realised" in s["at_thresholds"]
