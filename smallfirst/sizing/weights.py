"""Weight bytes of a model in a GGUF quantisation (or bitsandbytes NF4).

The file is split the way llama.cpp's quantiser treats it (src/llama-quant.cpp):

* the output matrix (or the token embedding when it is tied to the output) gets Q6_K, or Q8_0 when
  its row length (the hidden size) is not a multiple of the type's block;
* the token embedding of an untied model gets the file type's embedding type;
* everything else (the "body") gets the base type; ``_M``/``_S`` mixes raise ``attn_v`` and
  ``ffn_down`` in some layers, and their average body bits are *derived* from the size llama.cpp
  prints for its reference model (Llama-3-8B) after taking out the embedding and output;
* K-quant rows whose length is not a multiple of 256 fall back (Q4_K→Q5_0 …).

Vision towers stay 16-bit (Ollama does not quantize them); MoE experts use the file type's expert
type (gpt-oss: MXFP4). Without vocabulary and hidden size the estimate falls back to
parameters × the reference file's whole-model bits per weight.
"""

from __future__ import annotations

from dataclasses import dataclass

from smallfirst.catalog import Catalog, FileType, ModelInfo
from smallfirst.core.errors import BadRequestError

# Share of body weights in tensors whose rows have the hidden size (q, k, v, o, gate, up): all but
# ffn_down. Only used when the hidden size forces the K-quant fallback. Assumption (≈ 3/4 for
# Llama-style blocks with a ~3.5× FFN), stated in the estimate's notes.
HIDDEN_ROW_SHARE = 0.75
NF4 = "NF4"


@dataclass(frozen=True, slots=True)
class WeightsEstimate:
    embed_bytes: float
    output_bytes: float
    body_bytes: float
    vision_bytes: float
    method: str

    @property
    def total_bytes(self) -> float:
        return self.embed_bytes + self.output_bytes + self.body_bytes + self.vision_bytes


def bits(cat: Catalog, type_name: str) -> float:
    return cat.ggml_types[type_name].bits


def is_quantized(type_name: str) -> bool:
    return type_name not in ("F32", "F16", "BF16")


def fit_row(cat: Catalog, type_name: str, row: int) -> str:
    """The type llama.cpp actually uses for rows of length ``row`` (K-quant fallback, then F16)."""
    if row % cat.ggml_types[type_name].block == 0:
        return type_name
    fallback = cat.fallback_types.get(type_name)
    if fallback is None or row % cat.ggml_types[fallback].block != 0:
        return "F16"
    return fallback


def output_type(cat: Catalog, ft: FileType, hidden: int) -> str:
    """llama.cpp's rule for ``output.weight`` (and a tied ``token_embd.weight``)."""
    if not is_quantized(ft.base):
        return ft.output
    if hidden % cat.ggml_types[ft.base].block != 0:
        return "Q8_0"
    return fit_row(cat, ft.output, hidden)


def body_bits(cat: Catalog, ft: FileType) -> float:
    """Average bits per body weight: the base type's, or derived from llama.cpp's reference size for mixes."""
    if ft.reference_gib is None:
        return bits(cat, ft.base)
    ref = cat.quant_reference
    embed = float(ref["vocab_size"]) * float(ref["hidden_size"])
    out = 0.0 if ref["tied_embeddings"] else embed
    body = float(ref["params_b"]) * 1e9 - embed - out
    ref_bits = ft.reference_gib * 2**30 * 8
    return (ref_bits - embed * bits(cat, ft.embed) - out * bits(cat, ft.output)) / body


def whole_file_bits(cat: Catalog, ft: FileType) -> float:
    """Bits per parameter of the reference file as a whole (for models without architecture data)."""
    if ft.reference_gib is None:
        return bits(cat, ft.base)
    return ft.reference_gib * 2**30 * 8 / (float(cat.quant_reference["params_b"]) * 1e9)


def _nf4(cat: Catalog, m: ModelInfo) -> WeightsEstimate:
    b = float(cat.nf4["bits_double_quant"])
    embed = float(m.vocab_size or 0) * float(m.hidden_size or 0)
    out = 0.0 if m.tied_embeddings else embed
    body = m.params_b * 1e9 - embed - out
    return WeightsEstimate(embed * 2, out * 2, body * b / 8, m.vision_params_b * 1e9 * 2,
                           f"bitsandbytes NF4 + double quant ({b} bits) on linear layers; embeddings/lm_head 16-bit")


def estimate_weights(cat: Catalog, m: ModelInfo, quant: str) -> WeightsEstimate:
    """Bytes of weights for ``m`` quantised as ``quant`` (a GGUF file type such as Q4_K_M, or NF4)."""
    if quant.strip().upper() == NF4:
        return _nf4(cat, m)
    ft = cat.file_type(quant)
    if ft.experts is not None and m.moe_expert_params_b is None:
        raise BadRequestError(f"{ft.name} applies to mixture-of-experts models only; {m.id} is dense",
                              hint="use a GGUF type such as Q4_K_M")
    vision = m.vision_params_b * 1e9 * 2  # vision towers stay 16-bit
    if m.hidden_size is None or m.vocab_size is None:
        b = whole_file_bits(cat, ft)
        return WeightsEstimate(0.0, 0.0, m.params_b * 1e9 * b / 8, vision,
                               f"params × {b:.2f} bits ({ft.name} whole-file average; hidden size/vocab unknown)")
    hidden = m.hidden_size
    embed = float(m.vocab_size) * hidden
    out_t = output_type(cat, ft, hidden)
    if m.tied_embeddings:
        embed_bytes, out_bytes = embed * bits(cat, out_t) / 8, 0.0
        parts = [f"tied embedding {out_t}"]
    else:
        embed_t = fit_row(cat, ft.embed, hidden)
        embed_bytes, out_bytes = embed * bits(cat, embed_t) / 8, embed * bits(cat, out_t) / 8
        parts = [f"embedding {embed_t}", f"output {out_t}"]
    body = m.params_b * 1e9 - embed * (1 if m.tied_embeddings else 2)
    if ft.experts is not None and m.moe_expert_params_b is not None:
        experts = m.moe_expert_params_b * 1e9
        body_bytes = experts * bits(cat, ft.experts) / 8 + (body - experts) * bits(cat, ft.base) / 8
        parts.append(f"experts {ft.experts}, rest {ft.base}")
    else:
        avg = body_bits(cat, ft)
        fitted = fit_row(cat, ft.base, hidden)
        if fitted != ft.base:
            avg = HIDDEN_ROW_SHARE * bits(cat, fitted) + (1 - HIDDEN_ROW_SHARE) * avg
            parts.append(f"body {avg:.2f} bits (hidden {hidden} is not a multiple of 256: {ft.base}→{fitted})")
        else:
            parts.append(f"body {avg:.2f} bits")
        body_bytes = body * avg / 8
    if vision:
        parts.append(f"vision tower {m.vision_params_b} B at 16-bit")
    return WeightsEstimate(embed_bytes, out_bytes, body_bytes, vision, f"{ft.name}: " + ", ".join(parts))
