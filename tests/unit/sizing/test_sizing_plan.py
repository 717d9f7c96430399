from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from smallfirst.catalog import Catalog, load_catalog
from smallfirst.config.loader import load
from smallfirst.core.errors import BadRequestError
from smallfirst.core.types import Price
from smallfirst.sizing.cost import DAYS_PER_MONTH, LocalCosts, Workload, break_even_requests_per_day, strategy
from smallfirst.sizing.machine import from_profile
from smallfirst.sizing.plan import PlanOptions, make_plan, plan_to_dict, recommend_mix
from smallfirst.sizing.recommend import auto_quants, evaluate
from smallfirst.sizing.writeconfig import config_document, to_toml, write_config

MID = Price(0.25, 2.0)
FRONT = Price(1.25, 10.0)


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog()


def _work(**kw: object) -> Workload:
    base: dict[str, object] = {"requests_per_day": 10_000, "tokens_in": 500, "tokens_out": 200}
    base.update(kw)
    return Workload(**base)  # type: ignore[arg-type]


def test_api_cost_per_request() -> None:
    assert _work().api_cost(FRONT) == pytest.approx((500 * 1.25 + 200 * 10.0) / 1e6)


def test_local_costs_and_break_even() -> None:
    w = _work()
    local = LocalCosts(hardware_usd=2400, power_w=450, idle_w=50, tariff_usd_per_kwh=0.30, horizon_months=24,
                       seconds_per_request=2.0)
    assert local.fixed_monthly == pytest.approx(100 + 50 * 24 * DAYS_PER_MONTH / 1000 * 0.30)
    assert local.per_request == pytest.approx(400 * 2 / 3600 / 1000 * 0.30)
    front = strategy("all-frontier", (0, 0, 1), w, MID, FRONT, None)
    tiered = strategy("tiered", (0.7, 0.2, 0.1), w, MID, FRONT, local)
    expected = 0.7 * local.per_request + 0.2 * w.api_cost(MID) + 0.1 * w.api_cost(FRONT)
    assert tiered.per_request == pytest.approx(expected)
    v = break_even_requests_per_day(tiered, front)
    assert v is not None
    assert tiered.monthly(v) == pytest.approx(front.monthly(v))  # the two lines cross at the break-even volume
    assert tiered.monthly(v * 2) < front.monthly(v * 2)
    assert break_even_requests_per_day(front, front) is None


def test_capacity_adds_machines_and_can_prevent_break_even() -> None:
    w = _work()
    local = LocalCosts(4000, 300, 0, 0.3, 24, 10.0)
    only = strategy("local-only", (1, 0, 0), w, MID, FRONT, local, capacity_rpd=8640)
    assert only.machines(8640) == 1 and only.machines(8641) == 2 and only.machines(30_000) == 4
    front = strategy("all-frontier", (0, 0, 1), w, MID, FRONT, None)
    assert break_even_requests_per_day(only, front) is not None
    tiny = strategy("local-only", (1, 0, 0), w, MID, FRONT, local, capacity_rpd=10)
    assert break_even_requests_per_day(tiny, front) is None  # full long before it pays off


@pytest.mark.parametrize(
    ("kw", "message"),
    [({"requests_per_day": -1}, "negative"), ({"narrow": 0.5}, "sum"), ({"sensitive_share": 1.5}, "sensitive"),
     ({"horizon_months": 0}, "horizon"), ({"tokens_out": 0}, "tokens"), ({"latency_target_s": 0}, "latency")],
)
def test_workload_rejects_impossible_numbers(kw: dict[str, object], message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        _work(**kw)


def test_mix_sensitive_requests_stay_local(cat: Catalog) -> None:
    machine = from_profile(cat, cat.hardware_profile("nvidia-rtx-4090"))
    c = evaluate(cat, machine, cat.model("qwen3-8b"), "Q4_K_M", context=4096)
    mix = recommend_mix(_work(sensitive_share=0.5), c, None)
    assert (mix.local, mix.mid, mix.frontier) == pytest.approx((0.85, 0.1, 0.05))
    assert sum((mix.local, mix.mid, mix.frontier)) == pytest.approx(1)


def test_mix_capacity_caps_local_but_not_below_sensitive(cat: Catalog) -> None:
    machine = from_profile(cat, cat.hardware_profile("nvidia-rtx-4090"))
    c = evaluate(cat, machine, cat.model("qwen3-8b"), "Q4_K_M", context=4096)
    mix = recommend_mix(_work(), c, capacity_rpd=3000)
    assert mix.local == pytest.approx(0.3) and mix.mid == pytest.approx(0.6)
    assert any("capped" in r for r in mix.reasons)
    floor = recommend_mix(_work(sensitive_share=0.5), c, capacity_rpd=3000)
    assert floor.local == pytest.approx(0.5)


def test_mix_without_local_model_warns_about_sensitive_data() -> None:
    mix = recommend_mix(_work(sensitive_share=0.2), None, None)
    assert mix.local == 0 and mix.mid == pytest.approx(0.9)
    assert any("refused" in r for r in mix.reasons)


def test_plan_on_a_4090(cat: Catalog) -> None:
    machine = from_profile(cat, cat.hardware_profile("nvidia-rtx-4090"))
    p = make_plan(cat, machine, _work(), PlanOptions())
    assert p.chosen is not None and p.chosen.fits and p.chosen.fast_enough
    assert p.chosen.model.commercial_use and p.chosen.model.params_b <= 15
    assert p.chosen.memory.quant == (p.chosen.model.ollama_quant or "Q4_K_M")  # matches what `ollama pull` fetches
    d = plan_to_dict(p)
    names = [s["strategy"] for s in d["monthly_cost"]]
    assert names == ["all-frontier", "tiered", "local-only"]
    front, tiered = d["monthly_cost"][0], d["monthly_cost"][1]
    assert front["monthly_usd"] == pytest.approx(10_000 * DAYS_PER_MONTH * _work().api_cost(p.frontier.to_price()),
                                                 abs=0.01)
    assert tiered["monthly_usd"] < front["monthly_usd"]
    assert tiered["hardware_usd"] == pytest.approx(1600 / 24, abs=0.01)  # cited $1,600 over 24 months
    assert d["break_even_requests_per_day"]["tiered"] > 0
    assert "qwen2.5-3b-instruct" in [r["model"] for r in d["left_out"]]  # non-commercial licence


def test_auto_quant_is_the_ollama_tags(cat: Catalog) -> None:
    assert auto_quants(cat.model("llama-3.1-8b-instruct")) == ("Q4_K_M",)
    assert auto_quants(cat.model("smollm2-135m-instruct")) == ("F16", "Q4_K_M")
    assert auto_quants(cat.model("qwen3-0.6b")) == ("Q4_K_M",)


def test_only_model_that_does_not_fit_is_a_clear_error(cat: Catalog) -> None:
    machine = from_profile(cat, cat.hardware_profile("nvidia-rtx-4090"))
    opts = PlanOptions(only_models=(cat.model("llama-3.3-70b-instruct"),))
    with pytest.raises(BadRequestError, match="does not fit this machine"):
        make_plan(cat, machine, _work(), opts)


def test_written_config_round_trips_through_the_validator(cat: Catalog, tmp_path: Path) -> None:
    machine = from_profile(cat, cat.hardware_profile("nvidia-rtx-4090"))
    p = make_plan(cat, machine, _work(), PlanOptions(frontier_model="claude-sonnet-4-5"))
    target = tmp_path / "smallfirst.toml"
    settings = write_config(target, p, frontier_upstream="claude-sonnet-4-5")
    assert settings.tier_names == ("local", "mid", "frontier")
    local, mid, front = (t.endpoints[0] for t in settings.tiers)
    assert p.chosen is not None
    assert (local.backend, local.model, local.context_window) == ("ollama", p.chosen.model.ollama_tag, 4096)
    assert (mid.backend, mid.api_key_env, mid.price_input_per_mtok) == ("openai", "OPENAI_API_KEY", 0.25)
    assert (front.backend, front.model, front.api_key_env) == ("anthropic", "claude-sonnet-4-5", "ANTHROPIC_API_KEY")
    assert load(target) == settings
    assert f"ollama pull {p.chosen.model.ollama_tag}" in target.read_text()
    with pytest.raises(BadRequestError, match="already exists"):
        write_config(target, p)
    write_config(target, p, force=True)


def test_embedded_backend_needs_a_gguf_unless_it_is_the_bundled_model(cat: Catalog, tmp_path: Path) -> None:
    machine = from_profile(cat, cat.hardware_profile("laptop-16gb-ddr5"))
    p = make_plan(cat, machine, _work(), PlanOptions())
    with pytest.raises(BadRequestError, match="GGUF"):
        config_document(p, local_backend="embedded")
    doc = config_document(p, local_backend="embedded", gguf="/models/x.gguf")
    assert doc["tiers"][0]["endpoints"][0]["model_path"] == "/models/x.gguf"
    smol = make_plan(cat, machine, _work(), PlanOptions(only_models=(cat.model("smollm2-135m-instruct"),)))
    settings = write_config(tmp_path / "e.toml", smol, local_backend="embedded")
    ep = settings.tiers[0].endpoints[0]
    assert (ep.backend, ep.model_path, ep.n_ctx) == ("embedded", None, 4096)


def test_no_local_tier_when_nothing_fits(cat: Catalog, tmp_path: Path) -> None:
    machine = dataclasses.replace(from_profile(cat, cat.hardware_profile("nvidia-rtx-4090")), usable_gb=0.2)
    p = make_plan(cat, machine, _work(), PlanOptions())
    assert p.chosen is None and p.mix.local == 0
    assert [s.name for s in p.strategies] == ["all-frontier", "tiered"]
    settings = write_config(tmp_path / "api.toml", p)
    assert settings.tier_names == ("mid", "frontier")


def test_toml_strings_are_escaped() -> None:
    text = to_toml({"tiers": [{"name": 'we"ird\\', "endpoints": [{"backend": "fake", "n": 3, "b": True}]}]}, ["x"])
    assert 'name = "we\\"ird\\\\"' in text and "n = 3" in text and "b = true" in text
