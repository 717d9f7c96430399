"""A peft LoRA adapter → a llama.cpp LoRA GGUF, written with the ``gguf`` package (no conversion script).

The file is what llama.cpp's ``convert_lora_to_gguf.py`` writes: ``general.type = adapter``,
``adapter.type = lora``, ``adapter.lora.alpha``, and per target ``<gguf tensor>.weight.lora_a``
(``r × in``) and ``.lora_b`` (``out × r``), named through gguf's tensor-name map. llama.cpp stores
the Llama q/k projections with their rows permuted for its RoPE layout (transformers un-permutes
them when it reads a GGUF), so ``lora_b`` of q_proj/k_proj gets the same row permutation; A is
untouched. Served with the base, it gives the logits of the trained peft model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smallfirst.core.errors import BadRequestError, ConfigError
from smallfirst.finetune.gguf_info import BaseModelInfo

_PREFIX = "base_model.model."


def permute_rows(w: Any, n_head: int) -> Any:
    """llama.cpp's q/k row order (convert_hf_to_gguf ``LlamaModel.permute``), for a 2-D array."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_lora_gguf(adapter_dir: str | Path, info: BaseModelInfo, out: str | Path) -> Path:
    import gguf
    import numpy as np
    from safetensors.torch import load_file

    adir = Path(adapter_dir)
    cfg_path, weights = adir / "adapter_config.json", adir / "adapter_model.safetensors"
    if not cfg_path.is_file() or not weights.is_file():
        raise BadRequestError(f"{adir} is not a peft adapter folder (adapter_config.json + "
                              "adapter_model.safetensors)", hint="train one with `smallfirst finetune run`")
    cfg = json.loads(cfg_path.read_text())
    if cfg.get("peft_type") != "LORA":
        raise BadRequestError(f"{adir}: adapter type {cfg.get('peft_type')!r} is not LORA")
    if cfg.get("use_dora") or cfg.get("rank_pattern") or cfg.get("alpha_pattern"):
        raise ConfigError("DoRA and per-layer rank/alpha patterns have no llama.cpp LoRA GGUF form")
    tensors = load_file(str(weights))
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, info.layers)
    pairs: dict[str, dict[str, Any]] = {}
    for key, arr in tensors.items():
        if ".lora_A." not in key and ".lora_B." not in key:
            raise ConfigError(f"{adir}: unexpected tensor {key!r} (only LoRA A/B matrices can be exported)")
        ab = "a" if ".lora_A." in key else "b"
        module = key.removeprefix(_PREFIX).split(".lora_")[0]
        target = names.get_name(module)
        if target is None:
            raise ConfigError(f"{adir}: no llama.cpp tensor for {module!r}")
        m = arr.float().numpy()
        if ab == "b" and module.endswith("q_proj"):
            m = permute_rows(m, info.heads)
        elif ab == "b" and module.endswith("k_proj"):
            m = permute_rows(m, info.kv_heads)
        pairs.setdefault(target, {})[ab] = np.ascontiguousarray(m)
    if not pairs:
        raise ConfigError(f"{adir}: the adapter has no LoRA weights")
    out_path = Path(out)
    tmp = out_path.with_name(out_path.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), info.architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(cfg["lora_alpha"]))
    for target in sorted(pairs):
        p = pairs[target]
        if set(p) != {"a", "b"}:
            raise ConfigError(f"{adir}: {target} lacks its LoRA {'A' if 'a' not in p else 'B'} matrix")
        writer.add_tensor(f"{target}.weight.lora_a", p["a"])
        writer.add_tensor(f"{target}.weight.lora_b", p["b"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out_path)
    return out_path
