"""Usage with prompt-cache tokens, and Price.cost billing them at cache prices (checked by hand)."""

from __future__ import annotations

import pytest

from smallfirst.catalog import price_for
from smallfirst.core.types import Price, Usage


def test_usage_splits_and_openai_shape() -> None:
    u = Usage(3100, 500, cache_read_tokens=2000, cache_write_tokens=1000)
    assert u.uncached_prompt_tokens == 100 and u.total_tokens == 3600
    assert u.to_openai() == {"prompt_tokens": 3100, "completion_tokens": 500, "total_tokens": 3600,
                             "prompt_tokens_details": {"cached_tokens": 2000, "cache_write_tokens": 1000}}
    assert Usage(5, 1).to_openai() == {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}


def test_anthropic_cache_prices_from_the_catalog() -> None:
    price = price_for("claude-sonnet-4-5")  # $3 in / $15 out; reads 0.1x = $0.30, 5-minute writes 1.25x = $3.75
    assert price is not None and price.cache_read_per_mtok == pytest.approx(0.3)
    u = Usage(3100, 500, cache_read_tokens=2000, cache_write_tokens=1000)
    # 100 x 3 + 2000 x 0.30 + 1000 x 3.75 + 500 x 15 = 300 + 600 + 3750 + 7500 = 12150 per million
    assert price.cost(u) == pytest.approx(0.01215)
    # 400 of the writes with the one-hour TTL (2x = $6): 300 + 600 + 600 x 3.75 + 400 x 6 + 7500 = 13050
    assert price.cost(Usage(3100, 500, 2000, 1000, cache_write_1h_tokens=400)) == pytest.approx(0.01305)
    assert price.cost(Usage(3100, 500)) == pytest.approx((3100 * 3 + 500 * 15) / 1e6)  # no cache: full price


def test_openai_cached_input_from_the_price_list() -> None:
    price = price_for("gpt-4o")  # $2.50 in, $10 out, cached input $1.25 (catalog-facts.json)
    assert price is not None and price.cache_read_per_mtok == 1.25
    # 952 x 2.5 + 2048 x 1.25 + 100 x 10 = 2380 + 2560 + 1000 = 5940 per million
    assert price.cost(Usage(3000, 100, cache_read_tokens=2048)) == pytest.approx(0.00594)


def test_unknown_cache_read_price_is_never_under_billed() -> None:
    price = Price(2.0, 8.0, "config")  # no cache prices known: reads as plain input, writes at Anthropic's 1.25x
    assert price.cost(Usage(1000, 0, cache_read_tokens=600)) == pytest.approx(1000 * 2.0 / 1e6)
    assert price.cost(Usage(1000, 0, cache_write_tokens=1000)) == pytest.approx(1000 * 2.5 / 1e6)
    explicit = Price(2.0, 8.0, "config", cache_read_per_mtok=0.5, cache_write_per_mtok=3.0)
    assert explicit.cost(Usage(1000, 10, cache_read_tokens=400, cache_write_tokens=100)) == pytest.approx(
        (500 * 2.0 + 400 * 0.5 + 100 * 3.0 + 10 * 8.0) / 1e6)
