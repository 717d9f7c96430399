"""Frozen, typed views of the catalog entries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from smallfirst.core.types import ANTHROPIC_CACHE_READ, Price

HardwareKind = Literal["apple", "discrete", "unified", "cpu"]
COMMERCIAL_BLOCKLIST = ("non-commercial", "research")


def _sources(raw: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in raw.items() if (k == "source" or k.endswith("_source")) and v is not None}


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """An open model: architecture, licence, Ollama tag and size, with per-field sources."""

    id: str
    family: str
    hf_repo: str
    params_b: float
    ollama_tag: str
    ollama_size_gb: float
    ollama_size_as_of: str
    license: str | None = None
    architecture: str = "llama"
    layers: int | None = None
    hidden_size: int | None = None
    attention_heads: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    max_context: int | None = None
    vocab_size: int | None = None
    tied_embeddings: bool = False
    active_params_b: float | None = None
    moe_expert_params_b: float | None = None
    vision_params_b: float = 0.0
    sliding_window: int | None = None
    global_layer_every: int | None = None
    ollama_quant: str | None = None
    ollama_quant_basis: str = ""
    kv_cache_bytes_per_token_f16: int | None = None
    notes: str = ""
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> ModelInfo:
        return cls(
            id=raw["id"], family=raw["family"], hf_repo=raw["hf_repo"], params_b=float(raw["params_b"]),
            ollama_tag=raw["ollama_tag"], ollama_size_gb=float(raw["ollama_size_gb"]),
            ollama_size_as_of=raw.get("ollama_size_as_of", raw.get("as_of", "")),
            license=raw.get("license"), architecture=raw.get("architecture", "llama"),
            layers=raw.get("layers"), hidden_size=raw.get("hidden_size"),
            attention_heads=raw.get("attention_heads"), kv_heads=raw.get("kv_heads"),
            head_dim=raw.get("head_dim"), max_context=raw.get("max_context"), vocab_size=raw.get("vocab_size"),
            tied_embeddings=bool(raw.get("tied_embeddings", False)), active_params_b=raw.get("active_params_b"),
            moe_expert_params_b=raw.get("moe_expert_params_b"),
            vision_params_b=float(raw.get("vision_params_b", 0.0)),
            sliding_window=raw.get("sliding_window"), global_layer_every=raw.get("global_layer_every"),
            ollama_quant=raw.get("ollama_quant"), ollama_quant_basis=raw.get("ollama_quant_basis", ""),
            kv_cache_bytes_per_token_f16=raw.get("kv_cache_bytes_per_token_f16"),
            notes=raw.get("notes", ""), sources=_sources(raw),
        )

    @property
    def has_architecture(self) -> bool:
        """True when layers, KV heads and head size are known (the KV cache can be computed)."""
        return None not in (self.layers, self.kv_heads, self.head_dim)

    @property
    def commercial_use(self) -> bool:
        """False for licences that forbid commercial use (e.g. Qwen2.5-3B's qwen-research)."""
        lic = (self.license or "").lower()
        return bool(lic) and not any(word in lic for word in COMMERCIAL_BLOCKLIST)


@dataclass(frozen=True, slots=True)
class HardwareProfile:
    """A named machine: memory, bandwidth, optional price, power and compute, with sources."""

    id: str
    name: str
    kind: HardwareKind
    memory_type: str
    source: str
    as_of: str
    max_memory_gb: float | None = None
    bandwidth_gbps: float | None = None
    price_usd: float | None = None
    power_w: float | None = None
    fp16_tflops: float | None = None
    gpu_working_set_gb: float | None = None
    match: tuple[str, ...] = ()
    notes: str = ""
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> HardwareProfile:
        ws: float | None = None
        if raw.get("gpu_working_set_default_gib") is not None:
            ws = float(raw["gpu_working_set_default_gib"]) * 2**30 / 1e9
        elif isinstance(raw.get("gpu_working_set_default_gb"), list):
            ws = float(min(raw["gpu_working_set_default_gb"]))  # the conservative end of the cited range
        return cls(
            id=raw["id"], name=raw["name"], kind=raw.get("kind", "cpu"), memory_type=raw.get("memory_type", ""),
            source=raw["source"], as_of=str(raw.get("as_of", "")), max_memory_gb=raw.get("max_memory_gb"),
            bandwidth_gbps=raw.get("bandwidth_gbps"), price_usd=raw.get("price_usd"), power_w=raw.get("power_w"),
            fp16_tflops=raw.get("fp16_tflops"), gpu_working_set_gb=ws, match=tuple(raw.get("match", ())),
            notes=raw.get("notes", ""), sources=_sources(raw),
        )


@dataclass(frozen=True, slots=True)
class ApiPrice:
    """An API model's list price (USD per million tokens) and where it comes from."""

    id: str
    vendor: str
    name: str
    input_per_mtok: float
    output_per_mtok: float
    source: str
    as_of: str
    cached_input_per_mtok: float | None = None
    corroborated_by: str | None = None
    note: str = ""

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> ApiPrice:
        note = " ".join(str(raw[k]) for k in ("note", "status_note") if raw.get(k))
        return cls(
            id=raw["id"], vendor=raw["vendor"], name=raw["name"],
            input_per_mtok=float(raw["input_usd_per_mtok"]), output_per_mtok=float(raw["output_usd_per_mtok"]),
            source=raw["source"], as_of=str(raw.get("as_of", "")),
            cached_input_per_mtok=raw.get("cached_input_usd_per_mtok"),
            corroborated_by=raw.get("corroborated_by"), note=note,
        )

    def to_price(self) -> Price:
        cite = f"{self.source}; as of {self.as_of}" if self.as_of else self.source
        if self.corroborated_by and "conflict" in (self.note + self.corroborated_by).lower():
            cite += f"; {self.corroborated_by}"
        read = self.cached_input_per_mtok  # the listed cached-input price; Anthropic lists a multiplier instead
        if read is None and self.vendor == "anthropic":
            read = round(self.input_per_mtok * ANTHROPIC_CACHE_READ, 9)
        return Price(self.input_per_mtok, self.output_per_mtok, f"catalog {self.id}: {cite}", cache_read_per_mtok=read)
