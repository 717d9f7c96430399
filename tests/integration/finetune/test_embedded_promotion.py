"""The embedded backend follows promoted.json: a new adapter is served from the next request, a broken one is
refused and the previous model keeps answering (real llama.cpp, tiny generated models; no torch)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("llama_cpp", reason="the [embedded] extra (llama-cpp-python) is not installed")

from smallfirst.backends.embedded import EmbeddedBackend
from smallfirst.backends.promoted import Promotion, write_pointer
from smallfirst.config.schema import EndpointConfig
from smallfirst.wire.openai_parse import to_request
from tests.fakes.tiny_gguf import write_tiny_gguf

pytestmark = pytest.mark.slow


def lora_gguf(path: Path, seed: int, n_embd: int = 64) -> Path:
    """A random (rank 4) LoRA adapter GGUF for every attention/MLP matrix of a tiny model of width ``n_embd``."""
    import gguf

    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 8.0)
    e = n_embd
    shapes = {"attn_q": (e, e), "attn_k": (e, e // 2), "attn_v": (e, e // 2), "attn_output": (e, e),
              "ffn_gate": (e, 2 * e), "ffn_up": (e, 2 * e), "ffn_down": (2 * e, e)}
    for i in range(2):
        for name, (n_in, n_out) in shapes.items():
            w.add_tensor(f"blk.{i}.{name}.weight.lora_a", (rng.standard_normal((4, n_in)) * 0.5).astype(np.float32))
            w.add_tensor(f"blk.{i}.{name}.weight.lora_b", (rng.standard_normal((n_out, 4)) * 0.5).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_pointer_switches_adapters_and_refuses_a_broken_one(tmp_path: Path) -> None:
    base = write_tiny_gguf(tmp_path / "tiny.gguf")
    good = lora_gguf(tmp_path / "good.lora.gguf", 1)
    broken = lora_gguf(tmp_path / "other-base.lora.gguf", 2, n_embd=32)  # made for another base model
    pointer = tmp_path / "promoted.json"
    backend = EmbeddedBackend(EndpointConfig(backend="embedded", model="tiny", model_path=str(base), n_ctx=256,
                                             n_threads=1, promoted=str(pointer)))
    assert backend._watch is not None
    backend._watch.interval_s = 0.0  # check the pointer on every request in this test
    req = to_request({"model": "tiny", "messages": [{"role": "user", "content": "the cat sat"}], "max_tokens": 6,
                      "temperature": 0})

    async def scenario() -> list[tuple[str, dict[str, object]]]:
        seen = []
        try:
            for target in (None, good, broken, None):
                if target is not None:
                    write_pointer(pointer, Promotion(str(base), str(target), 1 if target == good else 2, "t"), {})
                seen.append(((await backend.complete(req)).content, await backend.health()))
        finally:
            await backend.aclose()
        return seen

    (plain, h0), (tuned, h1), (after_broken, h2), (still, _h3) = asyncio.run(scenario())
    assert "promoted" in h0 and h0["promoted"]["version"] is None  # type: ignore[index]
    assert tuned != plain and h1["lora_path"] == str(good.resolve())  # served without a restart
    assert after_broken == tuned  # the broken adapter was refused; v1 keeps answering
    assert "version 2 failed to load" in str(h2["promoted"]["error"])  # type: ignore[index]
    assert still == tuned and h2["promoted"]["version"] == 1  # type: ignore[index]
