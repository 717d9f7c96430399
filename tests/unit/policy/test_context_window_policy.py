"""Context window policy: drop tiers too small for the estimated prompt plus requested output."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.config.loader import parse
from smallfirst.core.types import ChatRequest, Signals
from smallfirst.policy import ContextWindowPolicy

TIERS = ("local", "mid", "frontier")


def req(max_tokens: int | None = None) -> ChatRequest:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "x"}]
    return ChatRequest(model="smallfirst/auto", messages=messages, body={"messages": messages}, max_tokens=max_tokens)


@pytest.fixture
def policy() -> ContextWindowPolicy:
    s = parse({"tiers": [
        {"name": "local", "endpoints": [{"backend": "fake", "model": "a", "n_ctx": 2048}]},
        {"name": "mid", "endpoints": [{"backend": "fake", "model": "b", "context_window": 8192},
                                      {"backend": "fake", "model": "c", "context_window": 32768}]},
        {"name": "frontier", "endpoints": [{"backend": "openai", "model": "big"}]},
    ]})
    return ContextWindowPolicy.from_settings(s, safety=1.0)


def test_windows_from_config(policy: ContextWindowPolicy) -> None:
    assert policy.windows == {"local": 2048, "mid": 32768, "frontier": None}


def test_small_prompt_keeps_every_tier(policy: ContextWindowPolicy) -> None:
    res = policy.check(req(), Signals(prompt_tokens_est=1000), TIERS)
    assert res.allowed == TIERS and res.reasons == () and not res.pin_local


def test_prompt_plus_max_tokens_drops_small_tiers(policy: ContextWindowPolicy) -> None:
    res = policy.check(req(max_tokens=1500), Signals(prompt_tokens_est=1000), TIERS)
    assert res.allowed == ("mid", "frontier") and "removed local (2048)" in res.reasons[0]
    assert policy.check(req(), Signals(prompt_tokens_est=40000), TIERS).allowed == ("frontier",)


def test_nothing_fits_keeps_the_largest_instead_of_failing(policy: ContextWindowPolicy) -> None:
    res = policy.check(req(), Signals(prompt_tokens_est=40000), ("local", "mid"))
    assert res.allowed == ("mid",) and "largest" in res.reasons[0]


def test_safety_factor_applies() -> None:
    p = ContextWindowPolicy({"local": 2048}, safety=1.5)
    assert p.needed_tokens(req(), Signals(prompt_tokens_est=1400)) == 2100
    assert p.check(req(), Signals(prompt_tokens_est=1400), ["local", "mid"]).allowed == ("mid",)
    with pytest.raises(ValueError, match="safety"):
        ContextWindowPolicy({}, safety=0.5)
