from __future__ import annotations

from collections import Counter

import pytest

from smallfirst.catalog import load_catalog, price_for
from smallfirst.catalog.prices import candidates, canonical_key
from smallfirst.core.errors import ModelNotFoundError
from smallfirst.core.types import Usage


@pytest.mark.parametrize(
    ("name", "catalog_id"),
    [
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("GPT-4o-Mini", "gpt-4o-mini"),
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("openrouter/openai/gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("o3-2025-04-16", "o3"),
        ("anthropic/claude-haiku-4-5-20251001", "claude-4.5-haiku"),
        ("claude-3-5-haiku-20241022", "claude-3.5-haiku"),
        ("claude-3-5-haiku-latest", "claude-3.5-haiku"),
        ("claude-sonnet-4-5", "claude-sonnet-4.5"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("google/gemini-3.1-pro-preview", "gemini-3-1-pro-preview"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("mistral-large-2411", "mistral-large-latest"),
        ("ministral-8b-2410", "ministral-8b-latest"),
        ("open-mistral-nemo", "mistral-nemo"),
        ("deepseek/deepseek-chat", "deepseek-chat"),
    ],
)
def test_vendor_names_find_their_price(name: str, catalog_id: str) -> None:
    entry = load_catalog().api_price(name)
    assert entry is not None and entry.id == catalog_id


@pytest.mark.parametrize("name", ["", "llama3.1:8b", "smallfirst/local", "claude-sonnet-4", "gpt-9"])
def test_unknown_or_local_models_have_no_price(name: str) -> None:
    assert price_for(name) is None


def test_price_carries_numbers_and_citation() -> None:
    p = price_for("openai/gpt-4o-mini")
    assert p is not None
    assert (p.input_per_mtok, p.output_per_mtok) == (0.15, 0.6)
    assert "simonw/llm-prices" in p.source and "2026-07-30" in p.source
    assert p.cost(Usage(1_000_000, 1_000_000)) == pytest.approx(0.75)


def test_conflicting_price_says_so() -> None:
    p = price_for("o3")
    assert p is not None and "CONFLICT" in p.source


def test_canonical_keys_are_unique_across_the_catalog() -> None:
    counts = Counter(canonical_key(p.id) for p in load_catalog().prices)
    assert [k for k, n in counts.items() if n > 1] == []


def test_canonical_key_ignores_word_order_of_versions() -> None:
    assert canonical_key("claude-4.5-haiku") == canonical_key("claude-haiku-4-5")
    assert canonical_key("gpt-5-mini") != canonical_key("gpt-5.4-mini")


def test_candidates_order() -> None:
    assert list(candidates("Mistral-Large-2411")) == [
        "mistral-large-2411", "mistral-large", "mistral-large-2411-latest", "mistral-large-latest"]


def test_api_model_error_names_close_ids() -> None:
    with pytest.raises(ModelNotFoundError) as ei:
        load_catalog().api_model("gpt-4o-minii")
    assert "gpt-4o-mini" in ei.value.one_line()
