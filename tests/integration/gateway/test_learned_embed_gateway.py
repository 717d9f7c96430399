"""A learned router with embedding features (all-MiniLM-L6-v2 from the wheel) serving through the real
gateway, driven by the openai SDK: the live prompt is embedded and its probability decides the tier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from smallfirst.core.types import ChatRequest
from smallfirst.routing.learned import ThresholdsFile, thresholds_path_for
from smallfirst.routing.model import LinearRouterModel
from smallfirst.routing.outcomes import OutcomeTable, read_outcomes
from smallfirst.routing.train import TrainSpec, train
from smallfirst.signals import extract
from tests.integration.gateway.conftest import GatewayFactory, log_rows

ROOT = Path(__file__).resolve().parents[3]
TIERS = [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
         {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo?reply=big", "name": "big"}]}]
PROMPTS = ("What is 7 times 8?",
           "Write a rigorous proof that every bounded monotone sequence of real numbers converges.")


def p_local(model: LinearRouterModel, text: str) -> float:
    r = ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": text}], body={})
    return float(model.probs(text, extract(r))[0])


def test_an_embedding_router_embeds_the_live_prompt(gateway: GatewayFactory, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMALLFIRST_ROUTER_EMBED_CACHE", str(tmp_path / "vectors.sqlite"))
    rows = read_outcomes(str(ROOT / "examples" / "outcomes.jsonl"))
    keep = set(list(dict.fromkeys(r.prompt_id for r in rows))[:80])
    table = OutcomeTable.from_rows([r for r in rows if r.prompt_id in keep], tiers=["local", "frontier"])
    artifact = train(table, TrainSpec(kind="logistic", c=1.0, folds=2, features="embed")).save(tmp_path / "r.npz")
    offline = LinearRouterModel.load(artifact)
    probs = [p_local(offline, t) for t in PROMPTS]
    assert probs[0] != probs[1]
    # the threshold between the two prompts' probabilities: one goes local, the other frontier
    ThresholdsFile(tiers=("local", "frontier"), thresholds={"local": sum(probs) / 2}, method="quality",
                   quality_target=0.9).save(thresholds_path_for(artifact))
    want = ["local" if p > sum(probs) / 2 else "frontier" for p in probs]
    cfg: dict[str, Any] = {"tiers": TIERS, "routing": {"router": "learned", "artifact": str(artifact)}}
    with gateway(cfg) as (url, app):
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        got = []
        for text in PROMPTS:
            raw = client.chat.completions.with_raw_response.create(
                model="smallfirst/auto", messages=[{"role": "user", "content": text}])
            assert raw.parse().choices[0].message.content
            got.append((raw.headers["x-smallfirst-tier"], raw.headers["x-smallfirst-reason"]))
        rows_logged = log_rows(app)
    assert [tier for tier, _ in got] == want
    for (_, reason), p in zip(got, probs, strict=True):
        assert reason.startswith("learned:") and f"p(local ok)={p:.2f}" in reason
    assert len(rows_logged) == 2 and {r.tier for r in rows_logged} == set(want)
