"""Speed estimates: decode is memory-bound, prefill is compute-bound.

* decode tokens/s ≤ bandwidth ÷ bytes read per token (active weights + the KV cache read at the
  current position); real runtimes reach ~60–85 % of that bound (cited range in the catalog), so
  the estimate uses the middle of the range unless told otherwise;
* prefill tokens/s ≈ efficiency × FLOPS ÷ (2 × active parameters) when the machine's compute is
  known (a catalog profile, ``--tflops`` or the measured probe);
* request latency = prompt ÷ prefill rate + output ÷ decode rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smallfirst.catalog import Catalog, ModelInfo
from smallfirst.sizing.machine import Machine
from smallfirst.sizing.memory import MemoryEstimate, kv_cache_bytes

# Fraction of datasheet peak FLOPS a llama.cpp-style runtime reaches in prefill. An assumption, reported;
# a measured (achieved) rate is used as it is.
PREFILL_EFFICIENCY = 0.5


def default_decode_efficiency(cat: Catalog) -> float:
    low, high = (float(x) for x in cat.runtime["decode_efficiency"])
    return (low + high) / 2


def active_weight_bytes(est: MemoryEstimate, m: ModelInfo) -> float:
    """Weight bytes read per generated token: all of a dense model; shared + routed experts of a MoE."""
    w = est.weights.total_bytes - est.weights.vision_bytes
    if m.moe_expert_params_b and m.active_params_b:
        expert_share = m.moe_expert_params_b / m.params_b
        dense_params = m.params_b - m.moe_expert_params_b
        active_expert_frac = max(m.active_params_b - dense_params, 0.0) / m.moe_expert_params_b
        return w * (1 - expert_share) + w * expert_share * active_expert_frac
    return w


@dataclass(frozen=True, slots=True)
class SpeedEstimate:
    bandwidth_gbps: float
    efficiency: float
    bytes_per_token: float
    decode_upper_tps: float
    decode_tps: float
    prompt_tokens: int
    output_tokens: int
    prefill_tps: float | None
    basis: str

    @property
    def ttft_s(self) -> float | None:
        return None if self.prefill_tps is None else self.prompt_tokens / self.prefill_tps

    @property
    def latency_s(self) -> float:
        """Prefill (when known) + decode time for one request."""
        return (self.ttft_s or 0.0) + self.output_tokens / self.decode_tps

    def as_dict(self) -> dict[str, Any]:
        ttft = self.ttft_s
        return {
            "tokens_per_s": round(self.decode_tps, 1), "tokens_per_s_upper_bound": round(self.decode_upper_tps, 1),
            "bandwidth_gbps": self.bandwidth_gbps,
            "decode_efficiency": self.efficiency, "bytes_per_token_gb": round(self.bytes_per_token / 1e9, 4),
            "prefill_tokens_per_s": None if self.prefill_tps is None else round(self.prefill_tps, 1),
            "time_to_first_token_s": None if ttft is None else round(ttft, 3),
            "request_latency_s": round(self.latency_s, 2), "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens, "basis": self.basis,
        }


def estimate_speed(cat: Catalog, m: ModelInfo, est: MemoryEstimate, machine: Machine, *, prompt_tokens: int,
                   output_tokens: int, efficiency: float | None = None) -> SpeedEstimate | None:
    """Decode/prefill/latency for one request on ``machine``; None when its bandwidth is unknown."""
    if machine.bandwidth_gbps is None or machine.bandwidth_gbps <= 0:
        return None
    eff = default_decode_efficiency(cat) if efficiency is None else efficiency
    position = min(prompt_tokens + output_tokens // 2, est.context)
    kv_read = kv_cache_bytes(cat, m, max(position, 1), 1, est.kv_cache_type, ubatch=0) if m.has_architecture else 0.0
    per_token = active_weight_bytes(est, m) + kv_read
    upper = machine.bandwidth_gbps * 1e9 / per_token
    prefill: float | None = None
    basis = f"{machine.bandwidth_gbps:g} GB/s ({machine.bandwidth_source}) × {eff:.3g} ÷ {per_token / 1e9:.3f} GB/token"
    if machine.tflops:
        active = (m.active_params_b or m.params_b) * 1e9
        p_eff = 1.0 if machine.tflops_measured else PREFILL_EFFICIENCY
        prefill = machine.tflops * 1e12 * p_eff / (2 * active)
        basis += f"; prefill {machine.tflops:g} TFLOPS × {p_eff:g} ÷ 2·params ({machine.tflops_source})"
    else:
        basis += "; prefill not estimated (no compute figure: pass --tflops or --measure)"
    return SpeedEstimate(machine.bandwidth_gbps, eff, per_token, upper, upper * eff, prompt_tokens, output_tokens,
                         prefill, basis)
