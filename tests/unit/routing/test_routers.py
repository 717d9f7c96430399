"""Rules, fixed and random routers; tier mapping; the mix governor; registry wiring."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.config.registry import router_factory
from smallfirst.config.schema import EndpointConfig, RoutingConfig, Settings, TierConfig
from smallfirst.core.types import ChatRequest
from smallfirst.routing.fixed import FixedRouter
from smallfirst.routing.governor import MixGovernor
from smallfirst.routing.random_router import RandomRouter
from smallfirst.routing.rules import RulesRouter
from smallfirst.routing.tiers import level_to_index, pick_allowed
from smallfirst.signals import extract

T3 = ("local", "mid", "frontier")


def req(text: str, **meta: Any) -> ChatRequest:
    return ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": text}], body={},
                       metadata=meta)


def settings(names: tuple[str, ...] = T3, **routing: Any) -> Settings:
    tiers = [TierConfig(name=n, endpoints=[EndpointConfig(backend="fake", model=n)]) for n in names]
    return Settings(tiers=tiers, routing=RoutingConfig(**routing))


def choose(router: Any, text: str, tiers: tuple[str, ...] = T3, **meta: Any) -> Any:
    r = req(text, **meta)
    return router.choose(r, extract(r), tiers)


def test_level_mapping_any_number_of_tiers() -> None:
    assert [level_to_index(lv, 3, 1) for lv in range(3)] == [0, 0, 0]
    assert [level_to_index(lv, 3, 2) for lv in range(3)] == [0, 0, 1]
    assert [level_to_index(lv, 3, 3) for lv in range(3)] == [0, 1, 2]
    assert [level_to_index(lv, 3, 5) for lv in range(3)] == [0, 2, 4]


def test_rules_reasons_three_tiers() -> None:
    r = RulesRouter(T3)
    c = choose(r, "Classify the sentiment: great product")
    assert (c.tier, c.reason) == ("local", "rules: task=classify → local")
    c = choose(r, "Write a Python function that parses dates")
    assert (c.tier, c.reason) == ("mid", "rules: task=code → mid")
    c = choose(r, "Think step by step: how many legs do 3 spiders and 2 ants have?")
    assert c.tier == "frontier"
    assert c.reason == "rules: task=math, reasoning requested → frontier"
    c = choose(r, "Solve for x: 2x = 4", task="classify")  # the metadata hint wins
    assert c.reason == "rules: task=classify → local"
    c = choose(r, "hello", task="invoice-triage")
    assert c.reason == "rules: task=invoice-triage, looks like chat → local"
    long = "Summarise this report: " + "numbers went up. " * 500
    c = RulesRouter(T3, long_prompt_chars=1000).choose(req(long), extract(req(long)), T3)
    assert c.tier == "mid" and "long prompt (8,523 chars)" in c.reason
    assert c.scores["mid"] == 1.0 and c.scores["frontier"] == 1.0 and c.scores["local"] < 1.0


def test_rules_two_and_one_tier_and_policy_restrictions() -> None:
    r2 = RulesRouter(("local", "frontier"))
    assert choose(r2, "Write a Python function that parses dates", ("local", "frontier")).tier == "local"
    assert choose(r2, "Prove that sqrt 2 is irrational, step by step", ("local", "frontier")).tier == "frontier"
    r1 = RulesRouter(("local",))
    assert choose(r1, "Prove that sqrt 2 is irrational, step by step", ("local",)).tier == "local"
    r3 = RulesRouter(T3)
    c = choose(r3, "Prove that sqrt 2 is irrational, step by step", ("local", "mid"))  # frontier removed
    assert c.tier == "mid" and "(frontier not allowed)" in c.reason
    c = choose(r3, "Classify: hi", ("mid", "frontier"))  # local removed → next one up
    assert c.tier == "mid"


def test_pick_allowed() -> None:
    assert pick_allowed("mid", T3, ("local", "mid", "frontier")) == ("mid", "")
    assert pick_allowed("local", T3, ("frontier",))[0] == "frontier"
    assert pick_allowed("frontier", T3, ("local",))[0] == "local"
    with pytest.raises(ValueError):
        pick_allowed("local", T3, ())


def test_fixed_and_random() -> None:
    f = FixedRouter("mid", T3)
    assert choose(f, "anything").tier == "mid"
    assert choose(f, "anything", ("local",)).tier == "local"
    with pytest.raises(ValueError):
        FixedRouter("gpu", T3)
    rr = RandomRouter(T3, mix=[0.7, 0.2, 0.1], seed=7)
    picks = [choose(rr, "x").tier for _ in range(2000)]
    assert picks.count("local") / 2000 == pytest.approx(0.7, abs=0.04)
    assert picks.count("frontier") / 2000 == pytest.approx(0.1, abs=0.03)
    again = RandomRouter(T3, mix=[0.7, 0.2, 0.1], seed=7)
    assert [choose(again, "x").tier for _ in range(50)] == picks[:50]
    assert {choose(rr, "x", ("mid",)).tier for _ in range(20)} == {"mid"}


def test_registry_builds_every_router_without_artifact() -> None:
    s = settings(fixed_tier="frontier")
    for name, cls in (("rules", RulesRouter), ("random", RandomRouter), ("fixed", FixedRouter)):
        router = router_factory(name)(s)
        assert isinstance(router, cls)
    assert choose(router_factory("fixed")(s), "x").tier == "frontier"
    assert choose(router_factory("fixed")(settings()), "x").tier == "local"


def test_governor_pulls_mix_to_target_and_stays_bounded() -> None:
    g = MixGovernor([0.7, 0.3], window=200, max_shift=0.1, gain=0.01, warmup=20)
    for _ in range(300):
        g.observe(0)  # everything went local: the local threshold must rise
    assert g.offsets[0] == pytest.approx(0.1)  # clipped at max_shift
    assert g.realised().tolist() == [1.0, 0.0]
    assert g.describe(["local", "frontier"]) == "governor local+0.100"
    # a simulated router: local if score ≥ 0.5 + offset; scores uniform → realised local share ≈ 0.5 - offset
    import numpy as np

    rng = np.random.default_rng(0)
    g2 = MixGovernor([0.7, 0.3], window=500, max_shift=0.3, gain=0.004)
    picks = []
    for _ in range(6000):
        tier = 0 if rng.random() >= 0.5 + g2.offsets[0] else 1
        g2.observe(tier)
        picks.append(tier)
    assert picks[-1000:].count(0) / 1000 == pytest.approx(0.7, abs=0.05)
    assert g2.offsets[0] == pytest.approx(-0.2, abs=0.05)
    with pytest.raises(ValueError):
        MixGovernor([1.0])
