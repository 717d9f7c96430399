"""`smallfirst router train | calibrate | bench` on a small slice of the real RouteLLM data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from smallfirst.cli.main import main
from smallfirst.routing import calibrate as C
from smallfirst.routing.benchmark import run_bench
from smallfirst.routing.learned import ThresholdsFile
from smallfirst.routing.model import LinearRouterModel
from smallfirst.routing.outcomes import Outcome, OutcomeTable, write_outcomes
from smallfirst.routing.routellm import load_routellm
from smallfirst.routing.train import TrainSpec, grouped_folds, train


def _slice(routellm_dir: Path, tmp_path: Path, n_prompts: int) -> Path:
    rows = load_routellm(["gsm8k"], data_dir=routellm_dir)
    keep = sorted({r.prompt_id for r in rows})[:n_prompts]
    ids = set(keep)
    path = tmp_path / "gsm8k-slice.jsonl"
    write_outcomes(path, [r for r in rows if r.prompt_id in ids])
    return path


@pytest.mark.slow
def test_train_calibrate_bench_cli(routellm_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _slice(routellm_dir, tmp_path, 300)
    art = tmp_path / "router.npz"
    assert main(["router", "train", str(data), "--out", str(art), "--tiers", "local,frontier", "--folds", "3",
                 "--c", "1"]) == 0
    model = LinearRouterModel.load(art)
    assert model.tiers == ("local", "frontier") and model.meta["n_train"] == 300
    assert main(["router", "calibrate", "--artifact", str(art), "--target-mix", "local=0.6,frontier=0.4"]) == 0
    tf = ThresholdsFile.load(Path(str(art) + ".thresholds.json"))
    assert tf.method == "mix" and tf.expected["mix"]["local"] == pytest.approx(0.6, abs=0.01)
    q = tmp_path / "q.json"
    assert main(["router", "calibrate", "--artifact", str(art), "--quality", "0.95", "--out", str(q)]) == 0
    tq = ThresholdsFile.load(q)
    assert tq.expected["quality"] >= 0.95 * tq.expected["top_tier_quality"] - 1e-9
    held = tmp_path / "held.json"  # calibrate on a given outcomes file (scored by the model)
    assert main(["router", "calibrate", "--artifact", str(art), "--target-mix", "local=0.5,frontier=0.5",
                 "--outcomes", str(data), "--out", str(held)]) == 0
    th = ThresholdsFile.load(held)
    assert th.source == str(data) and th.expected["mix"]["local"] == pytest.approx(0.5, abs=0.01)
    out = tmp_path / "bench"
    assert main(["router", "bench", str(data), "--routers", "learned,length,rules", "--folds", "3", "--c", "1",
                 "--out-dir", str(out)]) == 0
    summary = json.loads((out / "router-bench-gsm8k-slice.json").read_text(encoding="utf-8"))
    r = summary["routers"]
    assert set(r) == {"learned", "length", "rules", "random", "oracle"}
    assert r["random"]["apgr"] == pytest.approx(0.5)
    assert r["oracle"]["apgr"] > 1.0 > r["learned"]["apgr"] > 0.3
    assert 0.0 <= r["learned"]["cpt50"] <= 1.0 and "aiq" in r["learned"]
    assert summary["best"] in ("learned", "length", "rules")
    assert (out / "router-bench-gsm8k-slice.png").read_bytes()[:4] == b"\x89PNG"
    assert "APGR" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt_id": "a", "prompt": "x", "tier": "local", "score": 7}\n', encoding="utf-8")
    assert main(["router", "train", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "line 1" in err and "'score' must be a number in [0, 1]" in err and err.count("\n") == 1
    assert main(["router", "calibrate", "--artifact", str(tmp_path / "none.npz"), "--quality", "0.9"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["router", "calibrate", "--artifact", str(bad)]) == 1
    assert "exactly one of --target-mix or --quality" in capsys.readouterr().err
    assert main(["router", "bench", "routellm:nope"]) == 1
    assert "unknown RouteLLM benchmark" in capsys.readouterr().err


@pytest.mark.slow
def test_mix_calibration_holds_on_held_out_real_prompts(routellm_dir: Path) -> None:
    table = OutcomeTable.from_rows(load_routellm(["gsm8k"], data_dir=routellm_dir), tiers=("local", "frontier"))
    folds = grouped_folds(table.groups, 10, seed=0)
    fit_rows, held_rows = np.flatnonzero(folds >= 3), np.flatnonzero(folds < 3)
    model = train(table.subset(fit_rows), TrainSpec(folds=3, c=1.0, bits=16))
    assert model.oof is not None
    thr = C.calibrate_mix(model.oof, [0.6, 0.4])
    held = table.subset(held_rows)
    good = np.array([model.probs(p, model.featurizer.prompt_signals(p, t))
                     for p, t in zip(held.prompts, held.tasks, strict=True)])
    real = C.realised_mix(good, thr)
    assert real[0] == pytest.approx(0.6, abs=0.06)


@pytest.mark.slow
def test_bench_three_tiers_reports_aiq(rows3: list[Outcome]) -> None:
    table = OutcomeTable.from_rows(rows3)
    res = run_bench(table, ["learned", "length"], folds=3, seeds=(0,), c=1.0)
    r = res.summary["routers"]
    assert res.summary["tiers"] == ["local", "mid", "frontier"]
    assert r["oracle"]["aiq"] >= r["learned"]["aiq"] > r["random"]["aiq"]
    assert "apgr" not in r["learned"]  # two-tier metrics only for two tiers
    with pytest.raises(ValueError, match="unknown router"):
        run_bench(table, ["magic"])
