"""Which catalog models fit this machine, at which quantisation, how fast — ranked, with the reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from smallfirst.catalog import Catalog, ModelInfo
from smallfirst.sizing.machine import Machine
from smallfirst.sizing.memory import MemoryEstimate, estimate_memory
from smallfirst.sizing.rule import RuleCheck, check_rule
from smallfirst.sizing.speed import SpeedEstimate, estimate_speed

AUTO = "auto"  # the quantisation of the model's Ollama default tag (what `ollama pull` fetches), else Q4_K_M
FALLBACK_QUANT = "Q4_K_M"
HEADROOM = 0.10  # keep 10 % of usable memory free for the OS, fragmentation and growth (assumption)
MIN_DECODE_TPS = 10.0  # below ~10 tokens/s interactive use suffers (assumption; --min-tokens-per-s)
SLM_MAX_PARAMS_B = 15.0  # the article's small-model band is 1B–14B


@dataclass(frozen=True, slots=True)
class Candidate:
    model: ModelInfo
    memory: MemoryEstimate
    speed: SpeedEstimate | None
    usable_gb: float
    rule: RuleCheck
    latency_target_s: float | None
    min_tps: float

    @property
    def fits(self) -> bool:
        return self.memory.total_gb <= self.usable_gb * (1 - HEADROOM)

    @property
    def headroom_gb(self) -> float:
        return self.usable_gb - self.memory.total_gb

    @property
    def fast_enough(self) -> bool | None:
        """None when speed is unknown (no bandwidth figure)."""
        if self.speed is None:
            return None
        if self.speed.decode_tps < self.min_tps:
            return False
        return self.latency_target_s is None or self.speed.latency_s <= self.latency_target_s

    def why(self) -> str:
        m = self.memory
        parts = [f"{m.total_gb:.1f} of {self.usable_gb:.1f} GB usable"]
        if self.speed is not None:
            parts.append(f"~{self.speed.decode_tps:.0f} tok/s, {self.speed.latency_s:.1f} s per request")
            if self.fast_enough is False:
                target = f"{self.latency_target_s:g} s target" if self.latency_target_s else ""
                parts.append(f"too slow (floor {self.min_tps:g} tok/s{', ' + target if target else ''})")
        parts.append(self.model.license or "licence unknown")
        if not self.model.commercial_use:
            parts.append("not for commercial use")
        return "; ".join(parts)

    def verdict(self) -> str:
        if self.fits:
            return f"fits: {self.memory.total_gb:.2f} GB of {self.usable_gb:.1f} GB usable"
        return (f"does not fit: needs {self.memory.total_gb:.2f} GB, {self.usable_gb:.1f} GB usable "
                f"(≤ {1 - HEADROOM:.0%} may be filled)")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model.id, "ollama_tag": self.model.ollama_tag,
                               "params_b": self.model.params_b, "license": self.model.license,
                               "commercial_use": self.model.commercial_use, "fits": self.fits,
                               "verdict": self.verdict(),
                               "headroom_gb": round(self.headroom_gb, 2), "fast_enough": self.fast_enough,
                               "why": self.why()}
        out.update(self.memory.as_dict())
        out["model"] = self.model.id
        out["speed"] = self.speed.as_dict() if self.speed else None
        out["tokens_per_s"] = round(self.speed.decode_tps, 1) if self.speed else None
        out["rule_of_thumb"] = self.rule.as_dict()
        return out


def evaluate(cat: Catalog, machine: Machine, m: ModelInfo, quant: str, *, context: int, parallel: int = 1,
             kv_cache_type: str = "f16", prompt_tokens: int = 500, output_tokens: int = 200,
             efficiency: float | None = None, latency_target_s: float | None = None,
             min_tps: float = MIN_DECODE_TPS, flash_attention: bool = False) -> Candidate:
    est = estimate_memory(cat, m, quant, context, parallel=parallel, kv_cache_type=kv_cache_type,
                          backend=machine.backend, flash_attention=flash_attention)
    speed = estimate_speed(cat, m, est, machine, prompt_tokens=prompt_tokens, output_tokens=output_tokens,
                           efficiency=efficiency)
    return Candidate(m, est, speed, machine.usable_gb, check_rule(est, m), latency_target_s, min_tps)


def _rank_key(c: Candidate) -> tuple[bool, bool, bool, float, float]:
    slm = c.model.params_b <= SLM_MAX_PARAMS_B
    return (c.fast_enough is not False, c.model.commercial_use, slm, c.model.params_b,
            c.memory.weights_bytes / c.model.params_b)


def auto_quants(m: ModelInfo) -> tuple[str, ...]:
    """The Ollama tag's quantisation first (so the estimate matches what the config pulls), then Q4_K_M."""
    tag = m.ollama_quant or FALLBACK_QUANT
    return (tag,) if tag in (FALLBACK_QUANT, "MXFP4") else (tag, FALLBACK_QUANT)


def shortlist(cat: Catalog, machine: Machine, *, context: int, quants: Sequence[str] = (AUTO,),
              parallel: int = 1, kv_cache_type: str = "f16", prompt_tokens: int = 500, output_tokens: int = 200,
              efficiency: float | None = None, latency_target_s: float | None = None,
              min_tps: float = MIN_DECODE_TPS, allow_noncommercial: bool = False,
              models: Sequence[ModelInfo] | None = None, flash_attention: bool = False,
              ) -> tuple[list[Candidate], list[Candidate]]:
    """(fitting candidates best-first, one per model; models that fit nowhere, at their smallest quant)."""
    fitting: list[Candidate] = []
    rejected: list[Candidate] = []
    for m in cat.models if models is None else models:
        if not m.has_architecture:
            continue
        if m.moe_expert_params_b:
            model_quants: tuple[str, ...] = ("MXFP4",)
        elif tuple(quants) == (AUTO,):
            model_quants = auto_quants(m)
        else:
            model_quants = tuple(quants)
        ctx = min(context, m.max_context) if m.max_context else context
        tried = [evaluate(cat, machine, m, q, context=ctx, parallel=parallel, kv_cache_type=kv_cache_type,
                          prompt_tokens=prompt_tokens, output_tokens=output_tokens, efficiency=efficiency,
                          latency_target_s=latency_target_s, min_tps=min_tps, flash_attention=flash_attention)
                 for q in model_quants]
        fits = [c for c in tried if c.fits]
        good = [c for c in fits if c.fast_enough is not False]
        pick = (good or fits)[0] if fits else None
        if pick is None or (not m.commercial_use and not allow_noncommercial):
            rejected.append(tried[-1])
        else:
            fitting.append(pick)
    fitting.sort(key=_rank_key, reverse=True)
    rejected.sort(key=lambda c: c.memory.total_gb)
    return fitting, rejected
