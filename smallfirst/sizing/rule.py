"""Where the rule of thumb "0.6–0.8 GB of memory per billion parameters at 4-bit" holds, and why it breaks.

The rule folds weights, KV cache and runtime into one constant. It holds for ≥3B dense text
models at Q4_K_M with a modest context; it breaks when one of the folded terms stops being small:
big vocabularies in small models (embeddings kept at 6.5–8.5 bits), long contexts, models
without grouped KV heads, vision towers, fixed runtime buffers, or a quantisation that is not 4-bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smallfirst.catalog import ModelInfo
from smallfirst.sizing.memory import MemoryEstimate

RULE_LOW_GB_PER_B = 0.6
RULE_HIGH_GB_PER_B = 0.8
FOUR_BIT = ("Q4_K_M", "Q4_K_S", "Q4_0", "Q4_1", "IQ4_XS", "NF4", "MXFP4")


@dataclass(frozen=True, slots=True)
class RuleCheck:
    gb_per_b: float
    rule_gb: tuple[float, float]
    holds: bool
    reasons: tuple[str, ...]
    causes: tuple[str, ...] = ()  # short labels of the reasons: "big vocabulary", "long context" …

    def as_dict(self) -> dict[str, Any]:
        return {"gb_per_b_params": round(self.gb_per_b, 3), "rule_gb": [round(x, 2) for x in self.rule_gb],
                "holds": self.holds, "causes": list(self.causes), "reasons": list(self.reasons)}


def check_rule(est: MemoryEstimate, m: ModelInfo) -> RuleCheck:
    """Compare an estimate with the rule and name the terms that push it outside."""
    x = est.gb_per_b_params
    rule = (RULE_LOW_GB_PER_B * m.params_b, RULE_HIGH_GB_PER_B * m.params_b)
    holds = RULE_LOW_GB_PER_B <= x <= RULE_HIGH_GB_PER_B
    reasons: list[str] = []
    causes: list[str] = []
    weights = est.weights_bytes

    def add(cause: str, text: str) -> None:
        causes.append(cause)
        reasons.append(text)

    if est.quant not in FOUR_BIT:
        add("not 4-bit", f"{est.quant} is not a 4-bit quantisation (the rule assumes 4-bit)")
    if m.vocab_size and m.hidden_size:
        embed = m.vocab_size * m.hidden_size * (1 if m.tied_embeddings else 2)
        share = embed / (m.params_b * 1e9)
        if share > 0.15:
            add("big vocabulary", f"big vocabulary: embeddings/output are {share:.0%} of the parameters and are kept "
                           f"at 6.5–8.5 bits ({m.vocab_size:,} tokens × {m.hidden_size})")
    if est.kv_bytes > 0.25 * weights:
        add("long context", f"long context: the KV cache ({est.kv_bytes / 1e9:.2f} GB at {est.context:,} tokens"
                       f"{f' × {est.parallel} slots' if est.parallel > 1 else ''}) is "
                       f"{est.kv_bytes / weights:.0%} of the weights")
    if m.kv_heads is not None and m.attention_heads is not None and m.kv_heads == m.attention_heads:
        add("no grouped KV heads", f"no grouped KV heads ({m.kv_heads} KV heads = attention heads): "
                       f"{2 * m.kv_heads * (m.head_dim or 0) * (m.layers or 0) * 2 / 1024:.0f} KiB per token at f16")
    if m.vision_params_b:
        add("vision tower", f"vision tower ({m.vision_params_b} B params at 16-bit) is not counted in the text params")
    if est.overhead_bytes > 0.2 * weights:
        add("runtime buffers", f"runtime buffers ({est.overhead_bytes / 1e9:.2f} GB: compute buffer + reserve) are "
                       f"{est.overhead_bytes / weights:.0%} of the weights at this size")
    if m.moe_expert_params_b:
        add("mixture of experts", "mixture of experts: all experts must be resident although few are active")
    if not holds and not reasons:
        extra = (est.kv_bytes + est.overhead_bytes) / 1e9 / m.params_b
        add("KV + runtime", f"KV cache and runtime buffers add {extra:.2f} GB/B to "
                            f"{weights / 1e9 / m.params_b:.2f} GB/B of weights")
    if holds and not reasons:
        reasons.append("dense 4-bit model with a modest context: the rule holds")
    return RuleCheck(x, rule, holds, tuple(reasons), tuple(causes))
