"""transformers / peft / bitsandbytes plumbing for the trainer. Every heavy import is inside a function.

* The base GGUF is dequantised by transformers (``gguf_file=``) once and saved as float32
  safetensors in the run folder (``base/``, keyed by the GGUF's sha256): bitsandbytes cannot quantise
  a model loaded from GGUF directly, and a resumed run loads the copy in a fraction of the time.
* QLoRA: ``BitsAndBytesConfig(load_in_4bit, nf4, double quant)`` → ``prepare_model_for_kbit_training``
  → LoRA on every linear layer. Plain LoRA: the float32 (CPU) / bfloat16 (GPU) model → LoRA.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smallfirst.core.errors import ConfigError
from smallfirst.finetune.dataset import TrainRow
from smallfirst.finetune.gguf_info import BaseModelInfo, file_digest

INSTALL_HINT = "pip install 'smallfirst[finetune]'"
IGNORE = -100


@contextmanager
def quiet() -> Iterator[None]:
    """Library deprecation chatter and progress bars off while we call into transformers/peft/bitsandbytes."""
    with warnings.catch_warnings():
        for cat in (FutureWarning, DeprecationWarning, UserWarning):
            warnings.simplefilter("ignore", cat)
        yield


def require() -> None:
    """Import the training stack (once per process), silencing its load-time noise; clear error if missing."""
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # "kernels not installed" chatter
    try:
        with quiet():
            import peft  # noqa: F401
            import torch  # noqa: F401
            import transformers
    except ImportError as err:
        raise ConfigError(f"fine-tuning needs the [finetune] extra ({err.name} is not installed)",
                          hint=INSTALL_HINT) from None
    tlog: Any = transformers.utils.logging
    tlog.set_verbosity_error()
    tlog.disable_progress_bar()


def four_bit_available(device: str) -> tuple[bool, str]:
    """Whether bitsandbytes 4-bit works here, and why not."""
    try:
        with quiet():
            import bitsandbytes as bnb
    except ImportError:
        return False, "bitsandbytes is not installed"
    except Exception as exc:  # a broken native library raises RuntimeError/OSError on import
        return False, f"bitsandbytes failed to load ({type(exc).__name__}: {exc})"
    if device == "cpu":
        from importlib.metadata import version

        major, minor = (int(x) for x in version("bitsandbytes").split(".")[:2])
        if (major, minor) < (0, 45):
            return False, f"bitsandbytes {bnb.__version__} has no CPU 4-bit backend (needs ≥ 0.45)"
    return True, ""


def materialise(info: BaseModelInfo, out: Path) -> Path:
    """A float32 safetensors copy of the GGUF base (with its tokenizer) in ``out``; reused when current."""
    digest = file_digest(info.path)
    stamp = out / "smallfirst-base.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("sha256") == digest:
        return out
    import torch
    import transformers

    auto_model: Any = transformers.AutoModelForCausalLM
    auto_tok: Any = transformers.AutoTokenizer
    if out.exists():
        shutil.rmtree(out)
    folder, name = str(info.path.parent), info.path.name
    with quiet(), redirect_stderr(io.StringIO()):  # transformers' GGUF reader draws its own tqdm bar
        tok = auto_tok.from_pretrained(folder, gguf_file=name)
        model = auto_model.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model.hf_quantizer = None  # the weights are dequantised already; let save_pretrained write them
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    with quiet():
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    (tmp / "smallfirst-base.json").write_text(json.dumps({"gguf": str(info.path), "sha256": digest}))
    tmp.rename(out)
    del model
    return out


@dataclass(frozen=True, slots=True)
class LoraSpec:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target: str = "all-linear"


def load_for_training(base_dir: Path, *, quant4: bool, device: str, spec: LoraSpec, seed: int) -> tuple[Any, Any]:
    """(peft model, tokenizer) ready to train."""
    import peft
    import torch
    import transformers

    tf: Any = transformers
    pf: Any = peft
    torch.manual_seed(seed)
    compute = torch.float32 if device == "cpu" else torch.bfloat16
    with quiet():
        tok = tf.AutoTokenizer.from_pretrained(str(base_dir))
        model: Any
        if quant4:
            q = tf.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=compute)
            model = tf.AutoModelForCausalLM.from_pretrained(str(base_dir), quantization_config=q, device_map=device)
            model = pf.prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        else:
            model = tf.AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=compute).to(device)
        cfg = pf.LoraConfig(r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=spec.target,
                         bias="none", task_type="CAUSAL_LM")
        model = pf.get_peft_model(model, cfg)
    model.config.use_cache = False
    model.train()  # from_pretrained returns eval mode; see mean_loss for why 4-bit layers must never run in it
    return model, tok


def encode(tok: Any, rows: Sequence[TrainRow], max_len: int, add_bos: bool, bos_id: int | None
           ) -> tuple[list[tuple[list[int], list[int]]], int]:
    """(input ids, labels) per row — the prompt masked out of the loss — and how many rows were too long."""
    out: list[tuple[list[int], list[int]]] = []
    too_long = 0
    for r in rows:
        p = tok(r.prompt, add_special_tokens=False)["input_ids"]
        c = tok(r.completion, add_special_tokens=False)["input_ids"]
        if add_bos and bos_id is not None:
            p = [bos_id, *p]
        if len(p) + len(c) > max_len or not c:
            too_long += 1
            continue
        out.append(([*p, *c], [IGNORE] * len(p) + list(c)))
    return out, too_long


def collate(batch: Sequence[tuple[list[int], list[int]]], pad_id: int, device: str) -> dict[str, Any]:
    import torch

    n = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), n), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), n), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), n), dtype=torch.long)
    for i, (x, y) in enumerate(batch):
        ids[i, :len(x)] = torch.tensor(x)
        labels[i, :len(y)] = torch.tensor(y)
        mask[i, :len(x)] = 1
    return {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": mask.to(device)}


def mean_loss(model: Any, data: Sequence[tuple[list[int], list[int]]], pad_id: int, device: str,
              batch: int) -> float | None:
    """Token-weighted mean loss over ``data`` (no gradients, dropout off); None when empty.

    Only the dropout modules are switched to eval mode: bitsandbytes (0.50) repacks 4-bit weights for
    its CPU inference kernel the first time a Linear4bit runs in eval mode and never unpacks them for
    training, after which the backward pass would go through a kernel without autograd support.
    """
    import torch

    if not data:
        return None
    drops = [m for m in model.modules() if isinstance(m, torch.nn.Dropout) and m.training]
    for m in drops:
        m.eval()
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            for i in range(0, len(data), batch):
                b = collate(data[i:i + batch], pad_id, device)
                n = int((b["labels"][:, 1:] != IGNORE).sum())
                with quiet():
                    total += float(model(**b).loss) * n
                count += n
    finally:
        for m in drops:
            m.train()
    return total / count if count else None
