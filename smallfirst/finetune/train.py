"""``smallfirst finetune run``: QLoRA (or LoRA) on the exported dataset, seeded, checkpointed, resumable.

Defaults follow the QLoRA recipe: rank 16, alpha 32, learning rate 2e-4 (AdamW, linear warm-up over
5 % of the steps then linear decay), LoRA on every linear layer, NF4 with double quantisation when
bitsandbytes works here (``--quant auto``), plain LoRA otherwise. A GPU is used when torch sees one.

The run folder::

    run.json          the configuration (a rerun with the same one resumes; a different one is refused)
    base/             the base model as float32 safetensors (from the GGUF; reused)
    checkpoints/      resumable checkpoints (see :mod:`smallfirst.finetune.checkpoint`)
    adapter/          the final peft adapter
    adapter.gguf      the same adapter for llama.cpp (see :mod:`smallfirst.finetune.lora_gguf`)
    train.json        figures: losses, held-out loss before/after, seconds per step, memory, devices
    loss.png          the loss curve

Data order is a seeded permutation per epoch and every RNG is checkpointed, so an interrupted run
that resumes ends with the same adapter as one that was never interrupted.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from smallfirst.core.errors import BadRequestError, SmallfirstError
from smallfirst.finetune import checkpoint, hf
from smallfirst.finetune.dataset import HELDOUT, TRAIN, read_card, read_rows
from smallfirst.finetune.gguf_info import read_base_info
from smallfirst.finetune.memory import Device, available_bytes, check, estimate

RUN_FORMAT = "smallfirst-finetune-run"
HELDOUT_LOSS_ROWS = 64


class TrainingInterrupted(SmallfirstError):
    code = "interrupted"


@dataclass(frozen=True, slots=True)
class TrainConfig:
    data: str
    base: str
    out: str
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    lr: float = 2e-4
    epochs: float = 3.0
    max_steps: int | None = None
    batch_size: int = 4
    max_len: int = 512
    seed: int = 0
    quant: str = "auto"  # auto | 4bit | none
    device: str = "auto"  # auto | cpu | cuda
    save_every: int = 50
    threads: int | None = None

    def identity(self) -> dict[str, Any]:
        """What must match for a rerun to resume (not the output folder, thread count or save cadence)."""
        d = asdict(self)
        for k in ("out", "threads", "save_every"):
            d.pop(k)
        return d

    def validate(self) -> None:
        for name in ("r", "alpha", "batch_size", "max_len", "save_every"):
            if getattr(self, name) < 1:
                raise BadRequestError(f"--{name.replace('_', '-')} must be at least 1")
        if not 0 < self.lr < 1:
            raise BadRequestError(f"learning rate {self.lr} is out of range", hint="the QLoRA default is 2e-4")
        if not 0 <= self.dropout < 1:
            raise BadRequestError(f"dropout {self.dropout} is not in [0, 1)")
        if self.quant not in ("auto", "4bit", "none"):
            raise BadRequestError(f"--quant {self.quant!r}: use auto, 4bit or none")
        if self.device not in ("auto", "cpu", "cuda"):
            raise BadRequestError(f"--device {self.device!r}: use auto, cpu or cuda")
        if self.max_steps is None and self.epochs <= 0:
            raise BadRequestError("--epochs must be positive (or set --max-steps)")
        if self.max_steps is not None and self.max_steps < 1:
            raise BadRequestError("--max-steps must be at least 1")


@dataclass(frozen=True, slots=True)
class StepInfo:
    step: int
    total: int
    loss: float
    seconds: float


def pick_device(want: str) -> Device:
    import torch

    cuda = torch.cuda.is_available()
    if want == "cuda" and not cuda:
        raise BadRequestError("--device cuda, but torch sees no CUDA GPU", hint="use --device cpu or auto")
    return "cuda" if want == "cuda" or (want == "auto" and cuda) else "cpu"


def pick_quant(want: str, device: str) -> tuple[bool, str]:
    if want == "none":
        return False, "plain LoRA (asked for)"
    ok, why = hf.four_bit_available(device)
    if want == "4bit" and not ok:
        raise BadRequestError(f"--quant 4bit, but {why}", hint="pip install 'bitsandbytes>=0.45', or --quant none")
    return (True, "QLoRA: NF4 + double quantisation") if ok else (False, f"plain LoRA ({why})")


def _prepare_out(cfg: TrainConfig, fresh: bool) -> Path:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    spec_path = out / "run.json"
    ident = cfg.identity()
    spec = {"format": RUN_FORMAT, "config": ident}
    if spec_path.is_file() and not fresh:
        old = json.loads(spec_path.read_text()).get("config", {})
        if old != ident:
            changed = sorted(k for k in ident if old.get(k) != ident[k])
            raise BadRequestError(f"{out} holds a run with a different configuration ({', '.join(changed)})",
                                  hint="pass --fresh to start over there, or choose another --out")
    if fresh:
        checkpoint.clear(out / "checkpoints")
    spec_path.write_text(json.dumps(spec, indent=2) + "\n")
    return out


def _schedule(total: int) -> Callable[[int], float]:
    warm = max(1, math.ceil(0.05 * total))

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total - step) / max(1, total - warm))

    return f


def train(cfg: TrainConfig, *, fresh: bool = False, progress: bool = True,
          on_step: Callable[[StepInfo], None] | None = None) -> dict[str, Any]:
    """Run (or resume) training; returns the ``train.json`` report."""
    cfg.validate()
    card = read_card(cfg.data)
    rows = read_rows(Path(cfg.data) / TRAIN)
    held_path = Path(cfg.data) / HELDOUT
    held_rows = read_rows(held_path)[:HELDOUT_LOSS_ROWS] if held_path.is_file() and held_path.stat().st_size else []
    info = read_base_info(cfg.base)
    hf.require()
    import torch

    device = pick_device(cfg.device)
    quant4, mode = pick_quant(cfg.quant, device)
    longest = max(len(r.prompt) + len(r.completion) for r in rows) // 3 + 8  # ≥ tokens for BPE vocabularies
    mem = estimate(info, quant4=quant4, device=device, r=cfg.r, batch=cfg.batch_size, seq=min(cfg.max_len, longest))
    mem = check(mem, *available_bytes(device))
    out = _prepare_out(cfg, fresh)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    import numpy as np

    np.random.seed(cfg.seed)
    t_load = time.perf_counter()
    base_dir = hf.materialise(info, out / "base")
    model, tok = hf.load_for_training(base_dir, quant4=quant4, device=device,
                                      spec=hf.LoraSpec(cfg.r, cfg.alpha, cfg.dropout), seed=cfg.seed)
    load_s = time.perf_counter() - t_load
    bos_id = tok.convert_tokens_to_ids(info.bos_token) if info.bos_token else None
    data, too_long = hf.encode(tok, rows, cfg.max_len, info.add_bos, bos_id)
    held, _ = hf.encode(tok, held_rows, cfg.max_len, info.add_bos, bos_id)
    if not data:
        raise BadRequestError(f"every training example is longer than --max-len {cfg.max_len} tokens",
                              hint="raise --max-len")
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    per_epoch = math.ceil(len(data) / cfg.batch_size)
    total = cfg.max_steps or max(1, math.ceil(cfg.epochs * per_epoch))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(total))
    ckpts = out / "checkpoints"
    state = checkpoint.TrainState()
    resumed_from = None
    if (last := checkpoint.latest(ckpts)) is not None:
        state = checkpoint.restore(last, model, optimizer, scheduler)
        resumed_from = state.step
    else:
        torch.manual_seed(cfg.seed)
    held_before = None
    report_path = out / "train.json"
    if resumed_from is not None and report_path.is_file():
        held_before = json.loads(report_path.read_text()).get("heldout_loss_before")
    elif resumed_from is None:
        held_before = hf.mean_loss(model, held, pad_id, device, cfg.batch_size)

    def partial_report(status: str) -> dict[str, Any]:
        return _report(cfg, info, mem, mode, device, card, state, total, len(data), too_long, load_s, resumed_from,
                       held_before, None, status)

    model.train()
    order: list[int] = []
    with _Bar(progress, total, state.step) as bar:
        try:
            while state.step < total:
                epoch, pos = divmod(state.step, per_epoch)
                if pos == 0 or not order:
                    g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
                    order = torch.randperm(len(data), generator=g).tolist()
                batch = [data[i] for i in order[pos * cfg.batch_size:(pos + 1) * cfg.batch_size]]
                t0 = time.perf_counter()
                b = hf.collate(batch, pad_id, device)
                with hf.quiet():
                    loss = model(**b).loss
                loss.backward()
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                dt = time.perf_counter() - t0
                state.step += 1
                value = float(loss.detach())
                state.losses.append(value)
                state.step_seconds.append(dt)
                state.tokens += int(b["attention_mask"].sum())
                bar.update(state.step, value, dt)
                if state.step % cfg.save_every == 0 and state.step < total:
                    checkpoint.save(ckpts, model, optimizer, scheduler, state)
                if on_step is not None:
                    on_step(StepInfo(state.step, total, value, dt))
        except KeyboardInterrupt:
            checkpoint.save(ckpts, model, optimizer, scheduler, state)
            report_path.write_text(json.dumps(partial_report("interrupted"), indent=2) + "\n")
            raise TrainingInterrupted(f"interrupted at step {state.step} of {total}; checkpoint saved in {ckpts}",
                                      hint="run the same command again to resume") from None
    checkpoint.save(ckpts, model, optimizer, scheduler, state)
    adapter_dir = out / "adapter"
    with hf.quiet():
        model.save_pretrained(str(adapter_dir))
    held_after = hf.mean_loss(model, held, pad_id, device, cfg.batch_size)
    from smallfirst.finetune.lora_gguf import write_lora_gguf

    write_lora_gguf(adapter_dir, info, out / "adapter.gguf")
    report = _report(cfg, info, mem, mode, device, card, state, total, len(data), too_long, load_s, resumed_from,
                     held_before, held_after, "done")
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    from smallfirst.finetune.plots import plot_losses

    plot_losses(report, out / "loss.png")
    return report


def _report(cfg: TrainConfig, info: Any, mem: Any, mode: str, device: str, card: dict[str, Any],
            state: checkpoint.TrainState, total: int, n_train: int, too_long: int, load_s: float,
            resumed_from: int | None, held_before: float | None, held_after: float | None,
            status: str) -> dict[str, Any]:
    import psutil

    secs = state.step_seconds
    steady = secs[1:] if len(secs) > 1 else secs
    return {
        "format": RUN_FORMAT, "status": status, "config": asdict(cfg), "mode": mode, "device": device,
        "base": {"path": str(info.path), "name": info.name, "params": info.params},
        "lora_params": info.lora_params(cfg.r), "data": {"dir": cfg.data, "card_counts": card.get("counts"),
                                                         "train_examples": n_train, "too_long": too_long},
        "memory_estimate": mem.as_dict(), "steps": state.step, "total_steps": total, "losses": state.losses,
        "step_seconds": [round(x, 4) for x in secs],
        "first_loss": state.losses[0] if state.losses else None,
        "last_loss": state.losses[-1] if state.losses else None,
        "heldout_loss_before": held_before, "heldout_loss_after": held_after,
        "seconds_per_step": sum(steady) / len(steady) if steady else None,
        "first_step_seconds": secs[0] if secs else None, "train_seconds": sum(secs), "load_seconds": load_s,
        "tokens": state.tokens, "tokens_per_second": state.tokens / sum(secs) if secs and sum(secs) > 0 else None,
        "resumed_from_step": resumed_from, "peak_rss_gb": round(psutil.Process().memory_info().rss / 1e9, 3),
        "adapter": "adapter", "adapter_gguf": "adapter.gguf",
    }


class _Bar:
    """A rich progress bar with the loss and seconds per step (nothing when disabled)."""

    def __init__(self, enabled: bool, total: int, start: int) -> None:
        self.progress: Any = None
        self.task: Any = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]}"),
                                     TimeRemainingColumn())
            self.task = self.progress.add_task("train", total=total, completed=start, loss="–", rate="")

    def update(self, step: int, loss: float, dt: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=step, loss=f"{loss:.4f}", rate=f"{dt:.2f} s/step")

    def __enter__(self) -> _Bar:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
