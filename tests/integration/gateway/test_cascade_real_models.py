"""The cascade with real llama.cpp inference in the gateway: a tiny random GGUF (real log-probs,
schema-constrained JSON, nonsense when unconstrained) and SmolLM2-135M (label-constrained
classification). The upper tier is the shipped fake backend."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from smallfirst.cascade.checker import ContractCheck
from smallfirst.cascade.confidence import confidence
from smallfirst.config.cascade import CascadeConfig
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.types import ChatRequest, Signals
from tests.fakes.tiny_gguf import write_tiny_gguf
from tests.integration.gateway.conftest import GatewayFactory, log_rows

pytest.importorskip("llama_cpp", reason="the embedded backend needs the [embedded] extra")

SCHEMA = {"type": "object", "properties": {"label": {"enum": ["simple", "complex"]}}, "required": ["label"]}
UPPER_JSON = '{"label": "complex"}'
LABELS = ["positive", "negative"]
SENTIMENT = "Classify the sentiment of the word. Answer with one word: positive or negative."


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def config(local: dict[str, Any], upper_reply: str) -> dict[str, Any]:
    return {"residency": {"enabled": False},
            "cascade": {"tasks": [{"name": "sentiment", "labels": LABELS, "min_confidence": 0.5}]},
            "tiers": [{"name": "local", "endpoints": [{"backend": "embedded", "n_threads": 2, **local}]},
                      {"name": "frontier", "endpoints": [{"backend": "fake", "model": f"echo?reply={upper_reply}",
                                                          "location": "us"}]}]}


def post(url: str, content: str, contract: dict[str, Any] | None = None, task: str | None = None,
         **body: Any) -> httpx.Response:
    meta: dict[str, str] = {}
    if contract is not None:
        meta["smallfirst_contract"] = json.dumps(contract)
    if task is not None:
        meta["smallfirst_task"] = task
    msgs = [{"role": "user", "content": content}]
    if task == "sentiment":
        msgs.insert(0, {"role": "system", "content": SENTIMENT})
    return httpx.post(url + "/v1/chat/completions", timeout=120, json={
        "model": "smallfirst/auto", "messages": msgs, "temperature": 0, "max_tokens": 24, "metadata": meta,
        **body})


@pytest.mark.slow
def test_tiny_model_schema_contract(gateway: GatewayFactory, tiny: Path) -> None:
    local = {"model_path": str(tiny), "n_ctx": 256}
    with gateway(config(local, UPPER_JSON.replace('"', "%22"))) as (url, app):
        kept = post(url, "the cat sat", {"json_schema": SCHEMA})  # constrained on the local tier: valid JSON
        free = post(url, "the cat sat", {"json_schema": SCHEMA, "constrain": False})  # random model: nonsense
        unsure = post(url, "the cat sat", {"json_schema": SCHEMA, "min_confidence": 0.99})  # real log-probs: low
        rows = sorted(log_rows(app), key=lambda r: r.ts)
    assert kept.status_code == free.status_code == unsure.status_code == 200
    assert kept.headers["x-smallfirst-tier"] == "local"
    assert json.loads(kept.json()["choices"][0]["message"]["content"])["label"] in ("simple", "complex")
    assert free.headers["x-smallfirst-tier"] == "frontier" and free.json()["choices"][0]["message"]["content"] \
        == UPPER_JSON
    assert unsure.headers["x-smallfirst-tier"] == "frontier"
    # unconstrained nonsense that hits max_tokens without valid JSON: "truncated"
    assert [r.attempts[0].outcome for r in rows] == ["ok", "truncated", "low_confidence"]
    assert "logprobs" not in unsure.json()["choices"][0] or unsure.json()["choices"][0]["logprobs"] is None


@pytest.mark.slow
def test_tiny_model_real_logprobs_give_a_confidence(tiny: Path) -> None:
    from smallfirst.backends.embedded import EmbeddedBackend

    check = ContractCheck(CascadeConfig.model_validate({"tasks": [{"name": "s", "labels": ["simple", "complex"],
                                                                   "min_confidence": 0.0}]}), ["local"])
    b = EmbeddedBackend(EndpointConfig(backend="embedded", model_path=str(tiny), n_ctx=256, n_threads=2))
    msgs = [{"role": "user", "content": "simple or complex?"}]
    req = ChatRequest(model="m", messages=msgs, body={"model": "m", "messages": msgs, "temperature": 0,
                                                      "max_tokens": 8}, temperature=0.0, max_tokens=8,
                      metadata={"smallfirst_task": "s"})
    sent = check.prepare(req, Signals(), "local", b.capabilities)

    async def go() -> Any:
        try:
            return await b.complete(sent)
        finally:
            await b.aclose()

    resp = asyncio.run(go())
    assert json.loads(resp.content) in ("simple", "complex")  # enum-constrained JSON string
    contract = check.contracts.for_request(req)
    assert contract is not None
    conf = confidence(resp.logprobs, "label", contract.label_of(resp.content), contract.labels)
    assert conf is not None and 0.0 <= conf <= 1.0
    assert len(resp.logprobs["content"][0]["top_logprobs"]) > 5  # asked for 20 (llama.cpp merges equal texts)
    assert check.restore(req, resp).content in ("simple", "complex")


@pytest.mark.slow
@pytest.mark.parametrize("stream", [False, True])
def test_smollm2_constrained_classification_into_the_label_set(gateway: GatewayFactory, stream: bool) -> None:
    with gateway(config({"model": "smollm2-135m", "n_ctx": 512}, "negative")) as (url, app):
        good = post(url, "Word: wonderful", task="sentiment", stream=stream)
        bad = post(url, "Word: terrible", task="sentiment", stream=stream)
        rows = sorted(log_rows(app), key=lambda r: r.ts)

    def text(r: httpx.Response) -> str:
        if not stream:
            return str(r.json()["choices"][0]["message"]["content"])
        events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
        return "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])

    assert good.status_code == bad.status_code == 200
    assert text(good) == "positive" and good.headers["x-smallfirst-tier"] == "local"
    assert text(bad) == "negative"
    for r in rows:  # constrained: the local answer is always in the label set
        assert r.attempts[0].tier == "local" and r.attempts[0].outcome in ("ok", "low_confidence")
