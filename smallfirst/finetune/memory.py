"""Memory a LoRA / QLoRA run needs, estimated before any weight is loaded, against what the device has.

Parts (bytes; decimal GB in reports, like :mod:`smallfirst.sizing`):

* **frozen weights** — QLoRA: the linear layers in bitsandbytes NF4 with double quantisation
  (``catalog.nf4.bits_double_quant`` bits per weight, the sizing model's figure) and everything else
  (embeddings, norms) in float32, which is what ``prepare_model_for_kbit_training`` leaves; plain
  LoRA: every weight in the compute dtype (float32 on CPU, bfloat16 on a GPU);
* **adapter** — ``r·(in+out)`` per linear layer, with its gradient and AdamW's two moments (float32:
  16 bytes per trainable parameter);
* **activations** kept for the backward pass (no gradient checkpointing), per token and layer about
  ``14·hidden + 5·ffn`` values plus ``2·heads·seq`` attention scores, and the logits with their
  log-softmax and gradient (``3·vocab`` per token, float32); ``seq`` is the longest training example
  (the trainer passes characters / 3, more than the token count of a BPE vocabulary, capped at
  ``--max-len``), since batches are padded to their longest example only;
* **loading** — the GGUF is dequantised once into a float32 model (``4·params``) to materialise the
  base; that copy is freed before training, so the peak is the larger of loading and training;
* **runtime** — torch/transformers themselves (≈1 GB of host RAM, measured); a CUDA context (≈0.5 GB).

The estimate is deliberately simple and errs high; it exists to fail fast with a clear message rather
than to swap or be killed halfway through a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from smallfirst.core.errors import BadRequestError
from smallfirst.finetune.gguf_info import BaseModelInfo

GB = 1e9
RUNTIME_HOST_BYTES = 1.0e9
CUDA_CONTEXT_BYTES = 0.5e9
Device = Literal["cpu", "cuda"]


@dataclass(frozen=True, slots=True)
class TrainMemory:
    device: Device
    quant: str  # "nf4" or "none"
    weights: float
    adapter: float
    activations: float
    loading: float
    runtime: float
    available: float | None = None
    available_basis: str = ""

    @property
    def training(self) -> float:
        return self.weights + self.adapter + self.activations + self.runtime

    @property
    def peak(self) -> float:
        return max(self.training, self.loading + self.runtime)

    @property
    def fits(self) -> bool:
        return self.available is None or self.peak <= self.available

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: round(getattr(self, k) / GB, 4) for k in
                               ("weights", "adapter", "activations", "loading", "runtime", "training", "peak")}
        return {"device": self.device, "quant": self.quant, **{f"{k}_gb": v for k, v in out.items()},
                "available_gb": None if self.available is None else round(self.available / GB, 3),
                "available_basis": self.available_basis, "fits": self.fits}


def nf4_bits() -> float:
    from smallfirst.catalog import load_catalog

    return float(load_catalog().nf4["bits_double_quant"])


def estimate(info: BaseModelInfo, *, quant4: bool, device: Device, r: int, batch: int, seq: int) -> TrainMemory:
    compute_bytes = 4 if device == "cpu" else 2
    embed = info.embedding_params()
    linear = sum(i * o for i, o in info.linear_shapes())
    other = max(info.params - embed - linear, 0)
    weights = linear * nf4_bits() / 8 + (embed + other) * 4 if quant4 else float(info.params * compute_bytes)
    adapter = info.lora_params(r) * 16
    tokens = batch * seq
    per_token_layer = 14 * info.hidden + 5 * info.ffn + 2 * info.heads * seq
    acts = tokens * (info.layers * per_token_layer * compute_bytes + 3 * info.vocab * 4)
    loading = info.params * 4.0 + info.file_bytes
    runtime = RUNTIME_HOST_BYTES if device == "cpu" else CUDA_CONTEXT_BYTES
    return TrainMemory(device, "nf4" if quant4 else "none", weights, adapter, acts, loading, runtime)


def available_bytes(device: Device) -> tuple[float, str]:
    """Free memory on the training device now, and how it was measured."""
    if device == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info()
        return float(free), "free GPU memory (torch.cuda.mem_get_info)"
    import psutil

    return float(psutil.virtual_memory().available), "available host RAM (psutil)"


def check(mem: TrainMemory, available: float, basis: str) -> TrainMemory:
    """``mem`` with the device's free memory; raises when the run would not fit."""
    from dataclasses import replace

    out = replace(mem, available=available, available_basis=basis)
    if not out.fits:
        parts = ", ".join(f"{k} {getattr(out, k) / GB:.2f}" for k in ("weights", "adapter", "activations",
                                                                        "runtime"))
        raise BadRequestError(
            f"not enough memory to fine-tune: the run needs about {out.peak / GB:.2f} GB ({parts} GB; loading "
            f"{out.loading / GB:.2f} GB) but {available / GB:.2f} GB is free ({basis})",
            hint="use --quant 4bit, a smaller --batch-size or --max-len, a smaller base model, or a machine "
                 "with more memory")
    return out

