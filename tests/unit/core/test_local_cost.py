"""The local price model: amortised hardware + energy per second of work, resolved from config and catalog."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.catalog import load_catalog
from smallfirst.config.loader import parse
from smallfirst.core import local_cost as lc
from smallfirst.core.errors import ConfigError
from smallfirst.core.types import Usage
from smallfirst.pipeline.local_cost import basis, figures_for, rate_for, resolve
from smallfirst.sizing import plan
from smallfirst.sizing.cost import Workload

YEAR_S = 365.25 * 24 * 3600


def expected_per_s(hardware: float, years: float, util: float, watts: float, tariff: float, parallel: int = 1) -> float:
    """The model written out from its definition: price over busy seconds of life, plus kWh × tariff."""
    return (hardware / (years * YEAR_S * util) + watts / 1000 / 3600 * tariff) / parallel


def settings(local: dict[str, Any] | None = None, endpoint: dict[str, Any] | None = None) -> Any:
    ep = {"backend": "fake", "name": "here", **({"local_cost": endpoint} if endpoint is not None else {})}
    return parse({"tiers": [{"name": "local", "endpoints": [ep]},
                            {"name": "far", "endpoints": [{"backend": "fake", "name": "far", "location": "us",
                                                           "price_input_per_mtok": 1.0}]}],
                  **({"costs": {"local": local}} if local is not None else {})})


def test_rate_per_second_is_amortised_hardware_plus_energy() -> None:
    r = lc.LocalRate(3000.0, 3.0, 0.4, 250.0, 0.22)
    assert r.usd_per_s == pytest.approx(expected_per_s(3000.0, 3.0, 0.4, 250.0, 0.22))
    half = lc.LocalRate(3000.0, 3.0, 0.4, 250.0, 0.22, parallel=4)
    assert half.usd_per_s == pytest.approx(r.usd_per_s / 4)


def test_seconds_are_measured_unless_a_speed_is_configured() -> None:
    u = Usage(prompt_tokens=600, completion_tokens=120)
    measured = lc.LocalRate(1000.0, 2.0, 1.0, 100.0, 0.3)
    assert measured.cost(u, 2500.0) == pytest.approx(2.5 * measured.usd_per_s)
    assert measured.cost(u, -1.0) == 0.0
    by_tokens = lc.LocalRate(1000.0, 2.0, 1.0, 100.0, 0.3, decode_tps=40.0, prefill_tps=300.0)
    assert by_tokens.cost(u, 99_999.0) == pytest.approx((600 / 300.0 + 120 / 40.0) * by_tokens.usd_per_s)
    decode_only = lc.LocalRate(1000.0, 2.0, 1.0, 100.0, 0.3, decode_tps=40.0)
    assert decode_only.cost(u, 0.0) == pytest.approx(120 / 40.0 * decode_only.usd_per_s)
    assert by_tokens.usd_per_mtok_output() == pytest.approx(by_tokens.usd_per_s / 40.0 * 1e6)
    assert measured.usd_per_mtok_output() is None


def test_owned_hardware_costs_only_its_energy() -> None:
    r = lc.LocalRate(0.0, 2.0, 1.0, 450.0, 0.30)
    assert r.cost(Usage(), 3_600_000.0) == pytest.approx(0.450 * 0.30)  # one hour at 450 W = 0.45 kWh


def test_defaults_are_plans_assumptions() -> None:
    r = rate_for(settings(), settings().tiers[0].endpoints[0])
    assert r is not None
    assert r.usd_per_kwh == plan.DEFAULT_TARIFF_USD_PER_KWH
    assert r.watts == plan.DEFAULT_POWER_W
    assert r.lifetime_years * 12 == Workload(1.0, 1, 1).horizon_months  # plan's amortisation horizon
    assert r.hardware_usd == 0.0 and r.utilisation == 1.0 and r.decode_tps is None
    src = dict(r.sources)
    assert "assumption" in src["watts"] and "assumption" in src["usd_per_kwh"]


def test_a_profile_brings_its_cited_price_and_power() -> None:
    prof = load_catalog().hardware_profile("nvidia-rtx-4090")
    s = settings({"profile": "nvidia-rtx-4090", "utilisation": 0.25})
    r = rate_for(s, s.tiers[0].endpoints[0])
    assert r is not None
    assert (r.hardware_usd, r.watts) == (prof.price_usd, prof.power_w)
    assert r.usd_per_s == pytest.approx(expected_per_s(float(prof.price_usd or 0), lc.DEFAULT_LIFETIME_YEARS, 0.25,
                                                       float(prof.power_w or 0), lc.DEFAULT_USD_PER_KWH))
    src = dict(r.sources)
    assert src["hardware_usd"].endswith(prof.source) and prof.sources["power_source"] in src["watts"]
    assert src["utilisation"] == "config"
    explicit = resolve(s.costs.local.model_copy(update={"hardware_usd": 999.0}))
    assert explicit.hardware_usd == 999.0 and dict(explicit.sources)["hardware_usd"] == "config"


def test_which_endpoints_are_priced_and_how_tables_merge() -> None:
    s = settings({"watts": 300.0, "decode_tokens_per_s": 20.0, "prefill_tokens_per_s": 200.0},
                 {"hardware_usd": 5000.0, "decode_tokens_per_s": 80.0})
    here, far = s.tiers[0].endpoints[0], s.tiers[1].endpoints[0]
    assert figures_for(s, far) is None  # off this host, no table of its own: an API, not own hardware
    r = rate_for(s, here)
    assert r is not None
    assert (r.hardware_usd, r.watts, r.decode_tps, r.prefill_tps) == (5000.0, 300.0, 80.0, None)  # speeds together
    off = settings({"enabled": False})
    assert rate_for(off, off.tiers[0].endpoints[0]) is None
    on_again = settings({"enabled": False}, {"enabled": True})
    assert rate_for(on_again, on_again.tiers[0].endpoints[0]) is not None
    site = parse({"tiers": [{"name": "box", "endpoints": [{"backend": "fake", "location": "site",
                                                           "local_cost": {"hardware_usd": 8000.0}}]}]})
    r2 = rate_for(site, site.tiers[0].endpoints[0])
    assert r2 is not None and r2.hardware_usd == 8000.0  # a box on your own network, priced by its own table
    assert [b["endpoint"] for b in basis(s)] == ["here"]


@pytest.mark.parametrize(("table", "needle"), [
    ({"utilisation": 1.5}, "costs.local.utilisation"),
    ({"utilisation": 0}, "costs.local.utilisation"),
    ({"lifetime_years": 0}, "costs.local.lifetime_years"),
    ({"watts": -5}, "costs.local.watts"),
    ({"usd_per_kwh": -0.1}, "costs.local.usd_per_kwh"),
    ({"parallel": 0}, "costs.local.parallel"),
    ({"decode_tokens_per_s": 0}, "costs.local.decode_tokens_per_s"),
    ({"prefill_tokens_per_s": 100.0}, "prefill_tokens_per_s needs decode_tokens_per_s"),
    ({"profile": "rtx-4090"}, "did you mean nvidia-rtx-4090"),
    ({"wats": 100}, "did you mean 'watts'"),
])
def test_bad_figures_are_refused_with_the_key(table: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError) as ei:
        settings(table)
    assert needle in ei.value.one_line()


def test_bad_endpoint_table_names_its_path() -> None:
    with pytest.raises(ConfigError) as ei:
        settings(None, {"hardware_usd": -1})
    assert "tiers[0].endpoints[0].local_cost.hardware_usd" in ei.value.one_line()
