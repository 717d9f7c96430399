"""Checkpoints a run can resume from: the adapter, the optimiser and scheduler, every RNG, the losses.

``checkpoints/step-000040/`` holds ``adapter_model.safetensors`` + ``adapter_config.json`` (peft) and
``trainer.pt``; ``checkpoints/latest`` names the newest complete one and is replaced only after the
folder is fully written, so a run killed while saving resumes from the previous checkpoint. The last
``keep`` checkpoints are kept.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LATEST = "latest"


@dataclass
class TrainState:
    step: int = 0
    losses: list[float] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    tokens: int = 0


def save(ckpt_root: Path, model: Any, optimizer: Any, scheduler: Any, state: TrainState, keep: int = 2) -> Path:
    import torch

    ckpt_root.mkdir(parents=True, exist_ok=True)
    name = f"step-{state.step:06d}"
    final = ckpt_root / name
    tmp = ckpt_root / (name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(str(tmp))
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": state.step,
                "losses": state.losses, "step_seconds": state.step_seconds, "tokens": state.tokens,
                "rng": {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": _np_state(),
                        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}},
               tmp / "trainer.pt")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    pointer = ckpt_root / (LATEST + ".tmp")
    pointer.write_text(name)
    pointer.replace(ckpt_root / LATEST)
    done = sorted(p for p in ckpt_root.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp"))
    for old in done[:-keep]:
        shutil.rmtree(old)
    return final


def _np_state() -> tuple[str, Any, int, int, float]:
    """numpy's global RNG state with its key array as a tensor (so ``torch.load(weights_only=True)`` reads it)."""
    import numpy as np
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return str(kind), torch.from_numpy(np.asarray(keys).astype(np.int64)), int(pos), int(has_gauss), float(cached)


def latest(ckpt_root: Path) -> Path | None:
    pointer = ckpt_root / LATEST
    if not pointer.is_file():
        return None
    path = ckpt_root / pointer.read_text().strip()
    return path if (path / "trainer.pt").is_file() else None


def restore(path: Path, model: Any, optimizer: Any, scheduler: Any) -> TrainState:
    """Load adapter weights, optimiser, scheduler and RNG states from ``path`` into the live objects."""
    import numpy as np
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(path / "adapter_model.safetensors")))
    blob = torch.load(path / "trainer.pt", map_location="cpu", weights_only=True)
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    rng = blob["rng"]
    torch.set_rng_state(rng["torch"])
    random.setstate(rng["python"])
    kind, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if rng.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return TrainState(step=int(blob["step"]), losses=list(blob["losses"]), step_seconds=list(blob["step_seconds"]),
                      tokens=int(blob["tokens"]))


def clear(ckpt_root: Path) -> None:
    if ckpt_root.exists():
        shutil.rmtree(ckpt_root)
