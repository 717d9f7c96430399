"""Memory a model needs to serve: weights + KV cache + compute buffer + runtime reserve.

* KV cache (llama.cpp / Ollama GraphSize): ``layers × 2 × kv_heads × head_dim × cells × bytes``,
  bytes per element by cache type (f16 2, q8_0 34/32, q4_0 18/32); cells = context × parallel
  slots (Ollama multiplies the context by ``OLLAMA_NUM_PARALLEL``); sliding-window layers keep
  ``min(cells, window × parallel + ubatch)`` cells, as llama.cpp does without ``--swa-full``.
* Compute buffer: Ollama's ``fullOffload`` graph estimate for the architecture (fs/ggml/ggml.go):
  the larger of the logits buffer ``4·b·(hidden + vocab)`` and the attention scores
  ``4·b·(… + context·(1 + heads))``, with b = micro-batch (512). With flash attention the score
  matrix is never materialised, so only the logits and per-token activations remain (off by
  default, as in llama-cpp-python; Ollama turns it on for some architectures).
* Runtime reserve: 457 MiB per CUDA GPU, 512 MiB on Metal (Ollama MinimumMemory), 0 on CPU.

Sizes are bytes internally; reported in decimal GB (10⁹), the unit Ollama prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from smallfirst.catalog import Catalog, ModelInfo
from smallfirst.core.errors import BadRequestError
from smallfirst.sizing.weights import WeightsEstimate, estimate_weights

Backend = Literal["cpu", "cuda", "metal"]
GB = 1e9
MIB = 2**20


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    model: str
    quant: str
    context: int
    parallel: int
    kv_cache_type: str
    backend: Backend
    params_b: float
    weights: WeightsEstimate
    kv_bytes: float
    compute_bytes: float
    reserve_bytes: float
    notes: tuple[str, ...] = ()

    @property
    def weights_bytes(self) -> float:
        return self.weights.total_bytes

    @property
    def overhead_bytes(self) -> float:
        return self.compute_bytes + self.reserve_bytes

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.kv_bytes + self.overhead_bytes

    @property
    def total_gb(self) -> float:
        return self.total_bytes / GB

    @property
    def gb_per_b_params(self) -> float:
        return self.total_gb / self.params_b

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "quant": self.quant, "context": self.context, "parallel": self.parallel,
            "kv_cache_type": self.kv_cache_type, "backend": self.backend,
            "weights_gb": round(self.weights_bytes / GB, 3), "kv_cache_gb": round(self.kv_bytes / GB, 3),
            "compute_gb": round(self.compute_bytes / GB, 3), "reserve_gb": round(self.reserve_bytes / GB, 3),
            "overhead_gb": round(self.overhead_bytes / GB, 3), "total_gb": round(self.total_gb, 3),
            "gb_per_b_params": round(self.gb_per_b_params, 3), "weights_method": self.weights.method,
            "notes": list(self.notes),
        }


def kv_cache_bytes(cat: Catalog, m: ModelInfo, context: int, parallel: int = 1, cache_type: str = "f16",
                   ubatch: int | None = None) -> float:
    """KV cache bytes for ``context`` tokens in each of ``parallel`` slots."""
    if m.layers is None or m.kv_heads is None or m.head_dim is None:
        raise BadRequestError(f"{m.id}: layer/KV-head data is not in the catalog, so its KV cache cannot be sized",
                              hint="pick a model with full architecture data (`smallfirst catalog models`)")
    b = ubatch if ubatch is not None else int(cat.runtime["ubatch"])
    per_cell = 2 * m.kv_heads * m.head_dim * cat.kv_bytes_per_element(cache_type)
    cells = context * parallel
    if m.sliding_window and m.global_layer_every:
        n_global = m.layers // m.global_layer_every
        swa_cells = min(cells, m.sliding_window * parallel + b)
        return float(per_cell * (n_global * cells + (m.layers - n_global) * swa_cells))
    return float(per_cell * m.layers * cells)


def compute_buffer_bytes(m: ModelInfo, context: int, parallel: int = 1, ubatch: int = 512,
                         flash_attention: bool = False) -> float:
    """Ollama's ``fullOffload`` graph size for the model's architecture (llama formula as the default)."""
    if m.hidden_size is None or m.attention_heads is None or m.vocab_size is None:
        return 0.0
    b, e, h, v = min(ubatch, context), m.hidden_size, m.attention_heads, m.vocab_size
    c = context * parallel
    logits = 4 * b * (e + v)
    if flash_attention:
        attention = 4 * b * (1 + 4 * e)
    elif m.architecture == "qwen2":
        attention = 4 * b * (1 + 2 * e + c + c * h)
    elif m.architecture.startswith("gemma"):
        attention = 4 * b * (2 + c + c * h + 2 * e + 2 * (m.head_dim or e // h) * h)
    else:
        attention = 4 * b * (1 + 4 * e + c * (1 + h))
    return float(max(logits, attention))


def estimate_memory(cat: Catalog, m: ModelInfo, quant: str, context: int, *, parallel: int = 1,
                    kv_cache_type: str = "f16", backend: Backend = "cpu",
                    flash_attention: bool = False) -> MemoryEstimate:
    """Everything a serving process holds for this model at this context."""
    if context < 1:
        raise BadRequestError(f"context must be a positive number of tokens, got {context}")
    if parallel < 1:
        raise BadRequestError(f"parallel slots must be at least 1, got {parallel}")
    notes: list[str] = []
    if m.max_context is not None and context > m.max_context:
        notes.append(f"context {context} exceeds the model's maximum {m.max_context}")
    if flash_attention:
        notes.append("flash attention: no attention-score buffer in the compute estimate")
    if m.sliding_window:
        notes.append(f"sliding-window layers (window {m.sliding_window}) keep a smaller cache")
    weights = estimate_weights(cat, m, quant)
    ubatch = int(cat.runtime["ubatch"])
    kv = kv_cache_bytes(cat, m, context, parallel, kv_cache_type, ubatch)
    compute = compute_buffer_bytes(m, context, parallel, ubatch, flash_attention)
    if compute == 0.0:
        notes.append("compute buffer not estimated (hidden size/heads/vocab unknown)")
    reserve = float(cat.runtime["reserve_mib"][backend]) * MIB
    return MemoryEstimate(m.id, quant.strip().upper(), context, parallel, kv_cache_type.lower(), backend,
                          m.params_b, weights, kv, compute, reserve, tuple(notes))
