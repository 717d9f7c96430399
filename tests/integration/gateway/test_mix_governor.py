"""The mix governor through the real gateway: it steers on the tier that *served* each request.

Two in-process fake tiers; the rules router sends every "hello" to local. With a 80/20 target the
governor moves a bounded, evenly spread share of picks up until the served mix is in the ±3 point band,
never for sensitive requests (residency is applied before the router and wins over the mix).
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.gateway.conftest import GatewayFactory, log_rows

TIERS = [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
         {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo?reply=big", "name": "big",
                                             "location": "us"}]}]


def ask(c: httpx.Client, text: str) -> httpx.Response:
    r = c.post("/v1/chat/completions", json={"model": "smallfirst/auto",
                                             "messages": [{"role": "user", "content": text}]})
    assert r.status_code == 200, r.text
    return r


def test_served_mix_converges_to_the_target_and_residency_wins(gateway: GatewayFactory) -> None:
    cfg: dict[str, Any] = {"tiers": TIERS, "routing": {"target_mix": {"local": 0.8, "frontier": 0.2}}}
    with gateway(cfg) as (url, app), httpx.Client(base_url=url, timeout=10) as c:
        tiers = [ask(c, "hello").headers["x-smallfirst-tier"] for _ in range(1200)]
        secret = [ask(c, "my card is 4111 1111 1111 1111, hello").headers["x-smallfirst-tier"] for _ in range(50)]
        metrics = c.get("/metrics").text
        rows = log_rows(app)
    first = next(i for i, t in enumerate(tiers) if t == "frontier")
    assert first > 40  # nothing moves before the warm-up
    late = tiers[-500:]
    assert abs(late.count("local") / 500 - 0.8) <= 0.03
    # convergence: the share over every later 500-request window stays in the band
    in_band = [abs(tiers[i - 500:i].count("local") / 500 - 0.8) <= 0.03 for i in range(500, 1201)]
    reached = next(i for i in range(len(in_band)) if all(in_band[i:])) + 500
    assert reached <= 900, reached
    assert secret == ["local"] * 50  # residency keeps them home whatever the mix wants
    moved = [r for r in rows if r.tier == "frontier"]
    assert moved and all("mix: moved local -> frontier" in r.reason for r in moved)
    assert 'smallfirst_mix_correction{tier="local"}' in metrics
    assert 'smallfirst_tier_mix_target_ratio{tier="local"} 0.8' in metrics


def test_the_governor_counts_the_tier_that_answered_not_the_pick(gateway: GatewayFactory) -> None:
    tiers = [{**TIERS[0], "endpoints": [{"backend": "fake", "model": "echo?fail=unavailable"}]}, TIERS[1]]
    cfg: dict[str, Any] = {"tiers": tiers, "routing": {"target_mix": {"local": 0.8, "frontier": 0.2}}}
    with gateway(cfg) as (url, app), httpx.Client(base_url=url, timeout=10) as c:
        for _ in range(200):
            ask(c, "hello")  # picked local, served by frontier after the local failure
        router: Any = app.pipeline.router
        assert router.served_share() == {"local": 0.0, "frontier": 1.0}
        assert router.corrections()["local"] < 0  # it sees too little local, not "all local picks"
