"""The learned router: training, artifact round trip, train/inference consistency, decisions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smallfirst.config.registry import router_factory
from smallfirst.config.schema import EndpointConfig, RoutingConfig, Settings, TierConfig
from smallfirst.core.errors import ConfigError
from smallfirst.core.types import ChatRequest, RequestRecord
from smallfirst.routing import calibrate as C
from smallfirst.routing.features import HashedFeaturizer
from smallfirst.routing.governed import GovernedRouter
from smallfirst.routing.learned import LearnedRouter, ThresholdsFile, thresholds_path_for
from smallfirst.routing.model import LinearRouterModel
from smallfirst.routing.outcomes import Outcome, OutcomeTable
from smallfirst.routing.train import (
    C_GRID,
    TrainSpec,
    featurize,
    fit_linear,
    fit_model,
    grouped_folds,
    margins,
    train,
)
from smallfirst.signals import extract

T3 = ("local", "mid", "frontier")


def req(text: str) -> ChatRequest:
    return ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": text}], body={})


def test_featurizer_is_stable_and_bounded() -> None:
    f = HashedFeaturizer(bits=16)
    a = f.text_hashes("Hello world, hello")
    assert a.tolist() == HashedFeaturizer(bits=16).text_hashes("hello   WORLD, hello").tolist()
    assert a.min() >= 0 and a.max() < 2**16
    assert len(f.text_hashes("")) == 0
    big = f.text_hashes("word " * 100_000)
    assert len(big) < 4 * f.max_chars  # bounded by max_chars, not by the prompt


def test_grouped_folds_keep_groups_together() -> None:
    groups = np.array([0, 0, 1, 2, 2, 2, 3, 4])
    folds = grouped_folds(groups, 3, seed=1)
    for g in np.unique(groups):
        assert len(set(folds[groups == g].tolist())) == 1
    assert set(folds.tolist()) == {0, 1, 2}


@pytest.mark.slow
def test_train_learns_the_synthetic_rule_and_round_trips(tmp_path: Path, rows2: list[Outcome]) -> None:
    table = OutcomeTable.from_rows(rows2, tiers=("local", "frontier"))
    model = train(table, TrainSpec(folds=4, bits=15))  # auto = ensemble; each member's C by inner CV
    assert model.meta["kind"] == "ensemble" and model.oof is not None
    assert model.meta["c_selected"] and set(model.meta["c"]) == {"logistic", "ridge"}
    assert all(c in C_GRID for c in model.meta["c"].values())
    def p(text: str) -> float:
        return float(model.probs(text, extract(req(text)))[0])

    easy = [p("Classify the sentiment of this review: the soup was lovely"),
            p("Translate into French: the lamp is red"), p("Summarise: the city council met today")]
    hard = [p("Prove that the sum of 9 odd numbers is a square, step by step"),
            p("Solve the integral of x^5 * log(x) and explain the usual method"),
            p("Plan a multi-step strategy to analyse cost trade-offs and justify it")]
    assert min(easy) > max(hard) and np.mean(easy) - np.mean(hard) > 0.35
    hard_text = "Prove that the sum of 9 odd numbers is a square, step by step"
    path = model.save(tmp_path / "r.npz")
    loaded = LinearRouterModel.load(path)
    assert loaded.tiers == model.tiers and loaded.meta["kind"] == "ensemble"
    assert np.allclose(loaded.probs(hard_text, extract(req(hard_text))), hard[0])
    assert loaded.oof is not None and np.allclose(loaded.oof, model.oof)


def test_inference_matches_the_training_pipeline(rows3: list[Outcome]) -> None:
    table = OutcomeTable.from_rows(rows3)
    assert table.tiers == T3
    feat = HashedFeaturizer(bits=16)
    fm = featurize(table.prompts, table.tasks, feat)
    rows = np.arange(len(table))
    w, b, idf = fit_linear(fm, table.scores, rows, "logistic", 1.0)
    batch = margins(fm, rows[:25], w, b, idf)
    m = LinearRouterModel(featurizer=feat, tiers=table.tiers, weights=w.astype(np.float32), bias=b,
                          platt=np.array([[1.0, 0.0], [1.0, 0.0]]), idf=idf.astype(np.float32))
    for i in range(25):
        sig = feat.prompt_signals(table.prompts[i], table.tasks[i])
        assert np.allclose(m.margins(table.prompts[i], sig), batch[i], atol=1e-4)


def test_ensemble_is_the_sum_of_standardised_members(rows2: list[Outcome]) -> None:
    table = OutcomeTable.from_rows(rows2, tiers=("local", "frontier"))
    fm = featurize(table.prompts, table.tasks, HashedFeaturizer(bits=15))
    rows = np.arange(len(table))
    w, b, idf = fit_model(fm, table.scores, rows, "ensemble", {"logistic": 1.0, "ridge": 0.3})
    assert w.shape == (fm.counts.shape[1], 1)
    want = np.zeros((len(rows), 1))
    for kind, c in (("logistic", 1.0), ("ridge", 0.3)):
        wk, bk, idf_k = fit_linear(fm, table.scores, rows, kind, c)
        assert np.array_equal(idf_k, idf)
        m = margins(fm, rows, wk, bk, idf_k)
        assert m.std() > 0
        want += (m - m.mean(axis=0)) / m.std(axis=0)
    got = margins(fm, rows, w, b, idf)
    assert np.allclose(got, want, atol=1e-8)
    assert abs(got.mean()) < 1e-8
    single = fit_model(fm, table.scores, rows, "logistic", {"logistic": 1.0})
    assert np.array_equal(single[0], fit_linear(fm, table.scores, rows, "logistic", 1.0)[0])


def test_train_spec_kinds() -> None:
    scores = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert TrainSpec().resolved_kind(scores) == "ensemble"
    assert TrainSpec(kind="ridge").resolved_kind(scores) == "ridge"
    with pytest.raises(ValueError, match="unknown model kind 'svm'"):
        TrainSpec(kind="svm").resolved_kind(scores)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        LinearRouterModel.load(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="not readable"):
        LinearRouterModel.load(tmp_path / "junk.npz")
    (tmp_path / "t.json").write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        ThresholdsFile.load(tmp_path / "t.json")


def _three_tier_router(tmp_path: Path, rows3: list[Outcome], mix: list[float]) -> tuple[Path, LinearRouterModel]:
    table = OutcomeTable.from_rows(rows3)
    model = train(table, TrainSpec(folds=3, bits=16, c=1.0))
    path = model.save(tmp_path / "r3.npz")
    assert model.oof is not None
    thr = C.calibrate_mix(model.oof, mix)
    ThresholdsFile(tiers=T3, thresholds=C.thresholds_dict(T3, thr), method="mix",
                   target_mix=dict(zip(T3, mix, strict=True))).save(thresholds_path_for(path))
    return path, model


def test_learned_router_from_config_decides_with_reasons(tmp_path: Path, rows3: list[Outcome]) -> None:
    path, _ = _three_tier_router(tmp_path, rows3, [0.5, 0.2, 0.3])
    tiers = [TierConfig(name=n, endpoints=[EndpointConfig(backend="fake", model=n)]) for n in T3]
    s = Settings(tiers=tiers, routing=RoutingConfig(router="learned", artifact=str(path)))
    router = router_factory("learned")(s)
    assert isinstance(router, LearnedRouter) and router.calibrated
    assert router.target_mix == {"local": 0.5, "mid": 0.2, "frontier": 0.3}
    easy = req("Translate into French: the garden is red")
    c = router.choose(easy, extract(easy), T3)
    assert c.tier == "local" and c.reason.startswith("learned: p(local ok)=") and "→ local" in c.reason
    hard = req("Plan a multi-step strategy to analyse copper trade-offs and justify it")
    c = router.choose(hard, extract(hard), T3)
    assert c.tier in ("mid", "frontier") and set(c.scores) == set(T3) and c.scores["frontier"] == 1.0
    c = router.choose(hard, extract(hard), ("local",))  # policy left only local
    assert c.tier == "local"
    sc = router.score(easy, extract(easy))
    assert 0.0 <= sc["local"] <= 1.0 and sc["frontier"] == 1.0


def test_learned_router_config_errors(tmp_path: Path, rows2: list[Outcome]) -> None:
    tiers = [TierConfig(name=n, endpoints=[EndpointConfig(backend="fake", model=n)]) for n in ("local", "mid")]
    with pytest.raises(ConfigError, match=r"needs routing\.artifact"):
        router_factory("learned")(Settings(tiers=tiers, routing=RoutingConfig(router="learned")))
    model = train(OutcomeTable.from_rows(rows2, tiers=("local", "frontier")), TrainSpec(folds=3, bits=14))
    p = model.save(tmp_path / "r2.npz")
    with pytest.raises(ConfigError, match="trained for tier"):
        router_factory("learned")(Settings(tiers=tiers, routing=RoutingConfig(router="learned", artifact=str(p))))
    uncal = LearnedRouter(model)
    r = req("hello")
    assert "uncalibrated" in uncal.choose(r, extract(r), ("local", "frontier")).reason


def test_governor_holds_mix_on_shifted_traffic(tmp_path: Path, rows3: list[Outcome]) -> None:
    """Calibrated for 50/20/30, then fed only easy prompts: the governor, told the tier that served each
    request, raises the local threshold."""
    path, model = _three_tier_router(tmp_path, rows3, [0.5, 0.2, 0.3])
    inner = LearnedRouter(model, ThresholdsFile.load(thresholds_path_for(path)))
    assert inner.target_mix is not None
    router = GovernedRouter(inner, T3, inner.target_mix, window=200, max_shift=0.3)
    easy = [r.prompt for r in rows3 if r.dataset == "easy"]
    picks = []
    for i in range(800):
        q = req(easy[i % len(easy)])
        c = router.choose(q, extract(q), T3)
        picks.append(c)
        router.observe(served(c.tier))
    assert router.governor.offsets[0] > 0
    early = sum(c.tier == "local" for c in picks[:100]) / 100
    late = sum(c.tier == "local" for c in picks[-200:]) / 200
    assert late < early
    assert "governor local+" in picks[-1].reason


def served(tier: str, status: int = 200, model: str = "smallfirst/auto") -> RequestRecord:
    return RequestRecord(request_id="r", ts=0.0, requested_model=model, tier=tier, model="m", endpoint="e",
                         status=status, error_code=None, reason="", escalations=(), attempts=(), prompt_tokens=0,
                         completion_tokens=0, cost_usd=0.0, latency_ms=1.0, ttft_ms=None, stream=False)


def test_config_file_keys_build_the_learned_router(tmp_path: Path, rows2: list[Outcome]) -> None:
    from smallfirst.config.loader import parse
    from smallfirst.pipeline import build_router

    model = train(OutcomeTable.from_rows(rows2, tiers=("local", "frontier")), TrainSpec(folds=3, bits=14, c=1.0))
    art = model.save(tmp_path / "r.npz")
    assert model.oof is not None
    thr = C.calibrate_mix(model.oof, [0.7, 0.3])
    tpath = ThresholdsFile(tiers=model.tiers, thresholds=C.thresholds_dict(model.tiers, thr), method="mix",
                           target_mix={"local": 0.7, "frontier": 0.3}).save(tmp_path / "custom.json")
    s = parse({"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "a"}]},
                         {"name": "frontier", "endpoints": [{"backend": "fake", "model": "b"}]}],
               "routing": {"router": "learned", "artifact": str(art), "thresholds": str(tpath),
                           "governor_window": 0}})
    router = build_router(s)
    assert isinstance(router, LearnedRouter) and router.calibrated  # governor_window = 0: not governed
    assert router.base[0] == pytest.approx(thr[0])
    with pytest.raises(ConfigError, match="thresholds file"):
        build_router(parse({**s.model_dump(), "routing": {"router": "learned", "artifact": str(art),
                                                          "thresholds": str(tmp_path / "missing.json")}}))
