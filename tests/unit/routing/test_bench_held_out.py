"""router bench: thresholds chosen on the training folds only (the headline), and leave-one-domain-out figures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from smallfirst.routing.bench_cross import MAX_DOMAINS, cross_domain_figures, domain_labels, held_out_domains
from smallfirst.routing.bench_thresholds import fold_scores, realised, to_unit
from smallfirst.routing.benchmark import run_bench
from smallfirst.routing.candidates import CANDIDATES, BenchContext
from smallfirst.routing.outcomes import Outcome, OutcomeTable
from smallfirst.routing.report import print_summary
from smallfirst.routing.train import grouped_folds


def test_learned_fold_scores_are_the_sweeps_and_come_with_inner_oof(rows2: list[Outcome]) -> None:
    table = OutcomeTable.from_rows(rows2, tiers=("local", "frontier"))
    ctx = BenchContext(table=table, kind="ensemble", c=1.0)
    fid = grouped_folds(table.groups, 3, 0)
    tr, te = np.flatnonzero(fid != 0), np.flatnonzero(fid == 0)
    for name in ("learned", "length"):
        g, g_tr = fold_scores(name, ctx, tr, te)
        assert np.allclose(g, CANDIDATES[name](ctx, tr, te))  # the held-out view scores exactly the sweep's router
        assert g_tr is not None and g_tr.shape == (len(tr), 1) and np.ptp(g_tr) > 0
    g, none = fold_scores("learned", ctx, tr, te, inner_folds=0)
    assert none is None and g.shape == (len(te), 1)


def test_to_unit_keeps_order_and_stays_inside_probability_bounds() -> None:
    ref = np.array([[-5.0], [0.0], [3.0], [40.0]])
    u = to_unit(ref, np.array([[-100.0], [-5.0], [1.0], [40.0], [1e6]]))
    assert np.all(np.diff(u[:, 0]) >= 0) and u.min() >= 0.0 and u.max() < 1.0


def test_realised_figures_at_training_thresholds(rows2: list[Outcome]) -> None:
    table = OutcomeTable.from_rows(rows2, tiers=("local", "frontier"))
    sc, co = table.scores, table.costs
    fid = grouped_folds(table.groups, 2, 0)
    tr, te = np.flatnonzero(fid == 0), np.flatnonzero(fid == 1)
    perfect = (sc[:, :1] >= sc[:, 1:]).astype(float)  # 1: local is good enough
    fig = realised(perfect[tr], perfect[te], tr, te, sc, co, mix=[0.5, 0.5])
    q = fig["q95"]
    assert q["met"] == 1.0 and q["quality"] >= 0.95 * sc[te, 1].mean() and q["cost_share"] < 0.5
    assert sum(q["mix"]) == pytest.approx(1.0) and fig["mix"]["mix_error"] is not None


def test_bench_reports_held_out_thresholds_beside_a_null_band(rows3: list[Outcome],
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    table = OutcomeTable.from_rows(rows3, tiers=("local", "mid", "frontier"))
    res = run_bench(table, ["length", "rules"], folds=3, seeds=[0, 1], target_mix=[0.5, 0.2, 0.3],
                    cross_domain=False)
    s = res.summary
    assert "oracle-threshold" in s["threshold_views"]["sweep"] and "cross_domain" not in s
    for name in ("length", "rules"):
        h = s["routers"][name]["held_out"]
        assert set(h) == {"q95", "mix"}
        assert 0 < h["q95"]["cost"] <= 1.0 and "cost_sd" in h["q95"] and set(h["q95"]["mix"]) == set(table.tiers)
    band = s["held_out"]["null_band"]["q95"]
    assert band["cost"][0] <= band["cost"][1]
    # prompt length (hard prompts are longer here) needs less than random scores calibrated the same way
    assert s["routers"]["length"]["held_out"]["q95"]["cost"] < band["cost"][0]
    assert s["routers"]["length"]["held_out"]["mix"]["mix_error"] < 0.2  # the training-fold mix holds roughly
    assert s["best_held_out"] in ("length", "rules")
    print_summary(s)
    out = capsys.readouterr().out
    assert out.index("what you get") < out.index("oracle-threshold view") and "null band (random scores)" in out


def test_cross_domain_leaves_one_dataset_out(rows2: list[Outcome], capsys: pytest.CaptureFixture[str]) -> None:
    table = OutcomeTable.from_rows(rows2, tiers=("local", "frontier"))
    assert domain_labels(table) == ("dataset", list(table.datasets))
    res = run_bench(table, ["length", "rules"], folds=2, c=1.0)
    cross = res.summary["cross_domain"]
    assert cross["by"] == "dataset" and set(cross["domains"]) == {"easy", "hard"}
    hard = cross["domains"]["hard"]
    assert hard["n_test"] == 120 and hard["n_train"] == 120
    r = hard["routers"]["length"]
    assert {"apgr", "auc", "aiq", "held_out"} <= set(r) and "q95" in r["held_out"]
    assert len(hard["null_band"]["apgr"]) == 2 and "q95" in hard["held_out_null_band"]
    print_summary(res.summary)
    assert "cross-domain: train on the other datasets" in capsys.readouterr().out


def test_cross_domain_falls_back_to_few_tasks_and_is_bounded(rows2: list[Outcome]) -> None:
    no_ds = [dataclasses.replace(r, dataset=None, task=f"t{int(r.prompt_id[1:]) % 3}") for r in rows2]
    table = OutcomeTable.from_rows(no_ds, tiers=("local", "frontier"))
    by, labels = domain_labels(table) or ("", [])
    assert by == "task" and set(labels) == {"t0", "t1", "t2"}
    many = [dataclasses.replace(r, dataset=None, task=f"t{int(r.prompt_id[1:]) % 12}") for r in rows2]
    assert domain_labels(OutcomeTable.from_rows(many, tiers=("local", "frontier"))) is None
    labels = [f"d{i % 10}" for i in range(400)] + ["tiny"] * 5
    kept = held_out_domains(labels)
    assert len(kept) == MAX_DOMAINS and "tiny" not in kept
    one = OutcomeTable.from_rows([dataclasses.replace(r, dataset="x") for r in rows2], tiers=("local", "frontier"))
    assert "skipped" in cross_domain_figures(BenchContext(table=one, kind="ensemble"), ["length"])
