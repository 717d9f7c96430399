"""The whole flywheel on real servers: a gateway on 127.0.0.1 whose local tier is a real llama.cpp model
(a tiny generated Llama) fails a task's contract, so requests escalate to an OpenAI-compatible upper tier;
the request log becomes the dataset; LoRA training, the gate and the deployment follow; the *running*
gateway then serves the tuned model (no restart) and keeps those requests local; a rollback undoes it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

pytest.importorskip("torch", reason="the [finetune] extra (torch, transformers, peft) is not installed")
pytest.importorskip("llama_cpp", reason="the [embedded] extra (llama-cpp-python) is not installed")

from smallfirst.finetune.base import load_base
from smallfirst.finetune.dataset import read_card
from smallfirst.finetune.deploy import deploy, rollback
from smallfirst.finetune.export import LogFilter, from_log, write_dataset
from smallfirst.finetune.gate import GateOptions, gate
from smallfirst.finetune.recalibrate import recalibrate
from smallfirst.finetune.train import TrainConfig, train
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.finetune import sentiment_prompts, trainable_tiny_gguf
from tests.integration.gateway.conftest import GatewayFactory

pytestmark = pytest.mark.slow
TASK = {"name": "sentiment", "regex": "^label=(yes|no)$", "constrain": False}


def config(tiny: Path, pointer: Path, upper_url: str) -> dict[str, Any]:
    return {
        "log": {"store_prompts": True},  # the opt-in: without it no text is logged and nothing can be exported
        "cascade": {"tasks": [TASK]},
        "tiers": [
            {"name": "local", "endpoints": [{"backend": "embedded", "model": "tiny", "model_path": str(tiny),
                                             "promoted": str(pointer), "n_ctx": 512, "n_threads": 1}]},
            {"name": "frontier", "endpoints": [{"backend": "vllm", "model": "gpt-fake", "base_url": upper_url,
                                                "location": "us", "price_input_per_mtok": 1.0,
                                                "price_output_per_mtok": 4.0}]},
        ]}


def ask(client: openai.OpenAI, up: FakeOpenAI, prompt: str, answer: str) -> str:
    up.reply = answer  # the upper tier knows the right answer
    raw = client.chat.completions.with_raw_response.create(
        model="smallfirst/auto", messages=[{"role": "user", "content": prompt}], max_tokens=8, temperature=0,
        metadata={"smallfirst_task": "sentiment"})
    return raw.headers["x-smallfirst-tier"]


def local_share(tiers: list[str]) -> float:
    return sum(t == "local" for t in tiers) / len(tiers)


def test_escalations_train_a_model_the_running_gateway_then_serves(gateway: GatewayFactory, tmp_path: Path) -> None:
    tiny = trainable_tiny_gguf(tmp_path / "tiny.gguf")
    models = tmp_path / "models"
    pairs = sentiment_prompts(70)
    with FakeOpenAI(model="gpt-fake").in_thread() as up, \
            gateway(config(tiny, models / "promoted.json", up.base_url)) as (url, app):
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        before = [ask(client, up, p, a) for p, a in pairs]
        ask(client, up, "the cat was good, write to ann.lee@example.com", "label=yes")  # PII: stays on this host
        assert local_share(before) == 0.0  # the base model never writes label=…

        store = app.pipeline.store
        store.flush()
        _info, tpl, src = load_base(tiny)
        collected = from_log(store.query(), LogFilter())
        assert collected.excluded["sensitive"] == 1 and len(collected.examples) == 70
        write_dataset(collected, tmp_path / "data", tpl, heldout=0.2, template_source=src)
        assert read_card(tmp_path / "data")["by_tier"] == {"frontier": 70}

        train(TrainConfig(data=str(tmp_path / "data"), base=str(tiny), out=str(tmp_path / "run"), lr=5e-3,
                          batch_size=8, dropout=0.0, max_steps=100, threads=1, quant="none"), progress=False)
        g = gate(tmp_path / "run", GateOptions(max_tokens=8, threads=1, progress=False))
        assert g["promote"], g["reason"]
        d = deploy(tmp_path / "run", models, name="sentiment")
        rc = recalibrate(tmp_path / "run")
        assert rc["answered_locally"]["before"] == 0.0 < rc["answered_locally"]["after"]
        assert rc["upper_tier"] == "frontier" and rc["cascade"]["after"]["local_share"] > 0

        time.sleep(1.1)  # the pointer is checked at most once a second
        after = [ask(client, up, p, a) for p, a in pairs]
        assert local_share(after) > 0.9  # the same traffic now stays local, from the same gateway process
        health = httpx.get(url + "/healthz", timeout=30).json()
        local = next(b for b in health["backends"] if b["tier"] == "local")
        assert local["promoted"]["version"] == d["version"] == 1 and local["lora_path"] == d["adapter"]

        rollback(models, version=0)
        time.sleep(1.1)
        assert local_share([ask(client, up, p, a) for p, a in pairs[:10]]) == 0.0  # the base model is back
    rows = json.loads((models / "promoted.json").read_text())
    assert rows["version"] == 0 and rows["rolled_back_from"] == 1
