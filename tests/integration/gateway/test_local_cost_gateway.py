"""Local answers are logged with what they cost on own hardware, apart from API spend, and the savings the
admin summary and `smallfirst report` show subtract it (openai SDK against a real gateway)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from smallfirst.cli.report import overview_for
from smallfirst.config.loader import parse
from tests.integration.gateway.conftest import GatewayFactory, log_rows

YEAR_S = 365.25 * 24 * 3600
OWN = {"hardware_usd": 3000.0, "lifetime_years": 3.0, "utilisation": 0.5, "watts": 200.0, "usd_per_kwh": 0.25,
       "decode_tokens_per_s": 50.0, "prefill_tokens_per_s": 500.0}  # the local tier's own table
SHARED = {"hardware_usd": 1200.0, "watts": 90.0, "usd_per_kwh": 0.40}  # [costs.local]: measured seconds
CFG: dict[str, Any] = {
    "costs": {"local": SHARED},
    "tiers": [
        {"name": "local", "endpoints": [{"backend": "fake", "model": "echo", "name": "own-gpu", "local_cost": OWN}]},
        {"name": "mid", "endpoints": [{"backend": "fake", "model": "echo?latency_ms=40", "name": "own-cpu"}]},
        {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo", "name": "api", "location": "us",
                                            "price_input_per_mtok": 3.0, "price_output_per_mtok": 15.0}]},
    ],
}
MSG = [{"role": "user", "content": "Classify the sentiment of: I love this blender"}]


def per_s(hardware: float, years: float, util: float, watts: float, tariff: float) -> float:
    return hardware / (years * YEAR_S * util) + watts / 1000 / 3600 * tariff


def test_local_answers_carry_their_local_cost_and_savings_subtract_it(gateway: GatewayFactory,
                                                                       tmp_path: Path) -> None:
    with gateway(CFG) as (url, app):
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        for model in ("smallfirst/local", "smallfirst/local", "smallfirst/mid", "smallfirst/frontier"):
            r = client.chat.completions.create(model=model, messages=MSG)  # type: ignore[arg-type]
            assert r.choices[0].message.content
        chunks = list(client.chat.completions.create(model="smallfirst/local", messages=MSG, stream=True,  # type: ignore[arg-type]
                                                     stream_options={"include_usage": True}))
        assert chunks
        rows = log_rows(app)
        summary = httpx.get(url + "/admin/api/summary").json()
        scrape = httpx.get(url + "/metrics").text

    by_tier: dict[str, list[Any]] = {}
    for row in rows:
        by_tier.setdefault(row.tier, []).append(row)
    gpu = per_s(OWN["hardware_usd"], OWN["lifetime_years"], OWN["utilisation"], OWN["watts"], OWN["usd_per_kwh"])
    for row in by_tier["local"]:  # priced from its tokens at the configured speeds
        seconds = row.prompt_tokens / OWN["prefill_tokens_per_s"] + row.completion_tokens / OWN["decode_tokens_per_s"]
        assert row.cost_usd == 0.0  # no API bill
        assert row.local_cost_usd == pytest.approx(seconds * gpu, rel=1e-9)
        assert row.attempts[-1].local_cost_usd == pytest.approx(row.local_cost_usd)
    (mid,) = by_tier["mid"]  # [costs.local] figures, the default lifetime and utilisation, measured seconds
    cpu = per_s(SHARED["hardware_usd"], 2.0, 1.0, SHARED["watts"], SHARED["usd_per_kwh"])
    assert mid.attempts[-1].latency_ms >= 35  # the fake sleeps 40 ms; libuv timers have 1 ms granularity
    assert mid.local_cost_usd == pytest.approx(mid.attempts[-1].latency_ms / 1000 * cpu, rel=1e-3)
    (front,) = by_tier["frontier"]
    assert front.local_cost_usd == 0.0 and front.cost_usd > 0  # an API: spend, not own hardware

    local = sum(r.local_cost_usd for r in rows)
    api = sum(r.cost_usd for r in rows)
    tokens_p, tokens_c = sum(r.prompt_tokens for r in rows), sum(r.completion_tokens for r in rows)
    baseline = (tokens_p * 3.0 + tokens_c * 15.0) / 1e6
    report = overview_for(parse({**CFG, "log": {"path": str(tmp_path / "log.db")}}), None, None, None, None, None)
    for o in (summary, report):
        c = o["cost"]
        assert c["api_usd"] == pytest.approx(api) and c["local_usd"] == pytest.approx(local, rel=1e-6)
        assert c["baseline_usd"] == pytest.approx(baseline)
        assert c["savings_usd"] == pytest.approx(baseline - api - local, abs=1e-8)
        assert c["savings_ignoring_local_usd"] - c["savings_usd"] == pytest.approx(local, abs=1e-8)
        assert {b["endpoint"] for b in c["local_basis"]} == {"own-gpu", "own-cpu"}
        tiers = {t["name"]: t for t in o["tiers"]}
        assert tiers["local"]["local_cost_usd"] == pytest.approx(sum(r.local_cost_usd for r in by_tier["local"]),
                                                                 rel=1e-6)
        assert tiers["frontier"]["local_cost_usd"] == 0.0
    metric = {smp.labels["tier"]: smp.value for fam in text_string_to_metric_families(scrape) for smp in fam.samples
              if smp.name == "smallfirst_local_cost_usd_total"}
    assert metric.keys() == {"local", "mid"}
    assert metric["local"] == pytest.approx(sum(r.local_cost_usd for r in by_tier["local"]))
    assert metric["mid"] == pytest.approx(mid.local_cost_usd)
