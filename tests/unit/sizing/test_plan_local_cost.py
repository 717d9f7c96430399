"""`plan --write` writes the local cost figures the plan used; the gateway then prices a local answer as the
plan's monthly costs do (hardware spread over the planned local requests, plus energy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smallfirst.catalog import load_catalog
from smallfirst.core.types import Usage
from smallfirst.pipeline.local_cost import rate_for
from smallfirst.sizing.cost import DAYS_PER_MONTH, Workload
from smallfirst.sizing.machine import from_profile
from smallfirst.sizing.plan import PlanOptions, make_plan
from smallfirst.sizing.writeconfig import write_config


def test_written_figures_price_a_request_as_the_plan_does(tmp_path: Path) -> None:
    cat = load_catalog()
    machine = from_profile(cat, cat.hardware_profile("nvidia-rtx-4090"))
    w = Workload(requests_per_day=4000, tokens_in=400, tokens_out=150, horizon_months=36)
    p = make_plan(cat, machine, w, PlanOptions(tariff_usd_per_kwh=0.22))
    assert p.chosen is not None and p.chosen.speed is not None and p.local_costs is not None
    settings = write_config(tmp_path / "smallfirst.toml", p, local_backend="ollama")
    local = settings.costs.local
    assert local.profile == "nvidia-rtx-4090" and local.usd_per_kwh == 0.22 and local.lifetime_years == 3.0
    assert local.hardware_usd is None and local.watts is None  # the profile's cited figures, not copies
    lc = p.local_costs
    local_rpd = w.requests_per_day * p.mix.local
    assert local.utilisation == pytest.approx(local_rpd * lc.seconds_per_request / 86400, abs=1e-4)
    ep = settings.tiers[0].endpoints[0]
    assert ep.local_cost is not None
    assert ep.local_cost.decode_tokens_per_s == pytest.approx(p.chosen.speed.decode_tps, abs=0.01)
    rate = rate_for(settings, ep)
    assert rate is not None
    one = rate.cost(Usage(w.tokens_in, w.tokens_out), 0.0)
    plan_hardware = lc.hardware_usd / (lc.horizon_months * DAYS_PER_MONTH * local_rpd)
    plan_energy = lc.power_w * lc.seconds_per_request / 3.6e6 * lc.tariff_usd_per_kwh  # idle watts are 0 here
    assert one == pytest.approx(plan_hardware + plan_energy, rel=2e-3)  # utilisation is written to 4 places
    text = (tmp_path / "smallfirst.toml").read_text()
    assert "local cost (logged as local_cost_usd" in text
    assert cat.hardware_profile("nvidia-rtx-4090").sources["power_source"] in text  # the citation travels


def test_no_local_tier_writes_no_local_costs(tmp_path: Path) -> None:
    cat = load_catalog()
    machine = from_profile(cat, cat.hardware_profile("laptop-16gb-ddr5"))
    p = make_plan(cat, machine, Workload(requests_per_day=100, tokens_in=400, tokens_out=150),
                  PlanOptions(only_models=None, min_tps=10_000))  # nothing is fast enough: API tiers only
    settings = write_config(tmp_path / "api.toml", p, local_backend="ollama")
    assert "local" not in settings.tier_names
    assert settings.costs.local.model_fields_set == set()
