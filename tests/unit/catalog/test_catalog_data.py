from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smallfirst.catalog import Catalog, load_catalog
from smallfirst.catalog.build import DATA_DIR, build
from smallfirst.core.errors import BadRequestError, ConfigError, ModelNotFoundError


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog()


def _raw() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA_DIR / "catalog.json").read_text(encoding="utf-8"))
    return doc


def test_every_entry_keeps_its_citation() -> None:
    doc = _raw()
    for section in ("models", "hardware", "api_prices"):
        for entry in doc[section]:
            assert entry.get("source"), f"{section} {entry['id']} lost its source"
            assert entry.get("as_of"), f"{section} {entry['id']} lost its as_of"
    for m in doc["models"]:
        assert m["ollama_size_source"] and m["params_source"]
        assert m["ollama_quant_basis"], m["id"]
    for name, t in doc["ggml_types"].items():
        assert t["source"], name


def test_catalog_is_the_facts_plus_additions() -> None:
    doc = _raw()
    additions = json.loads((DATA_DIR / "additions.json").read_text(encoding="utf-8"))
    facts = {k: v for k, v in doc.items() if k not in additions and k != "built_from"}
    for section in ("models", "hardware"):
        facts[section] = [{k: v for k, v in e.items() if k not in additions[section].get(e["id"], {})}
                          for e in doc[section]]
    assert build(facts, additions) == doc  # rebuilding from the stripped facts gives the same document


def test_build_refuses_to_overwrite_a_cited_field() -> None:
    facts = {"models": [{"id": "m", "source": "cited"}], "hardware": [], "api_prices": []}
    with pytest.raises(ConfigError, match="overwrite cited fields"):
        build(facts, {"models": {"m": {"source": "mine"}}})
    with pytest.raises(ConfigError, match="unknown models ids"):
        build(facts, {"models": {"nope": {"x": 1}}})


def test_typed_models(cat: Catalog) -> None:
    m = cat.model("llama-3.1-8b-instruct")
    assert (m.layers, m.kv_heads, m.head_dim, m.vocab_size) == (32, 8, 128, 128256)
    assert m.ollama_tag == "llama3.1:8b" and m.ollama_size_gb == 4.9
    assert m.kv_cache_bytes_per_token_f16 == 32 * 2 * 8 * 128 * 2
    assert "Jeffser/Alpaca" in m.sources["ollama_size_source"]
    assert m.commercial_use
    assert not cat.model("qwen2.5-3b-instruct").commercial_use
    assert cat.model("gpt-oss-20b").active_params_b == 3.6


def test_model_lookup_by_tag_repo_and_bare_name(cat: Catalog) -> None:
    assert cat.model("LLAMA3.1:8B").id == "llama-3.1-8b-instruct"
    assert cat.model("HuggingFaceTB/SmolLM2-135M-Instruct").id == "smollm2-135m-instruct"
    assert cat.model("phi4-mini").id == "phi-4-mini-instruct"  # the only phi4-mini tag
    assert cat.find_model("qwen3") is None  # several sizes: ambiguous


def test_unknown_model_error_suggests(cat: Catalog) -> None:
    with pytest.raises(ModelNotFoundError) as ei:
        cat.model("llama-3.1-8b-instruc")
    assert "llama-3.1-8b-instruct" in ei.value.one_line()


def test_hardware_profiles(cat: Catalog) -> None:
    h = cat.hardware_profile("nvidia-rtx-4090")
    assert (h.kind, h.max_memory_gb, h.bandwidth_gbps, h.price_usd) == ("discrete", 24, 1008, 1600)
    assert h.fp16_tflops == 165.2 and "hmc-tech" in h.sources["fp16_tflops_source"]
    m5 = cat.hardware_profile("apple-m5-max")
    assert m5.gpu_working_set_gb == pytest.approx(107.52 * 2**30 / 1e9)
    with pytest.raises(BadRequestError, match="unknown hardware profile"):
        cat.hardware_profile("nvidia-rtx-4091")


def test_match_hardware_prefers_the_longest_pattern(cat: Catalog) -> None:
    assert cat.match_hardware("Apple M4 Pro") is cat.hardware_profile("apple-m4-pro")
    assert cat.match_hardware("Apple M4") is cat.hardware_profile("apple-m4")
    matched = cat.match_hardware("NVIDIA GeForce RTX 4090")
    assert matched is not None and matched.id == "nvidia-rtx-4090"
    assert cat.match_hardware("Tesla T4") is None


def test_loader_caches_one_catalog_per_path(tmp_path: Path) -> None:
    assert load_catalog() is load_catalog()
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_catalog(str(bad))
    broken = tmp_path / "broken.json"
    broken.write_text('{"models": []}', encoding="utf-8")
    with pytest.raises(ConfigError, match="malformed catalog"):
        load_catalog(str(broken))
    with pytest.raises(ConfigError, match="not found"):
        load_catalog(str(tmp_path / "missing.json"))
