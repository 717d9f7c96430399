"""Sensitivity detector latency per request: p50 / p99 over typical request shapes.

The default detectors (regex + validators + phone numbers) must stay under 2 ms p50 per typical
request; ``--ner`` also measures the optional spaCy NER (the ``[pii]`` extra).

Usage:
    python bench/sensitivity_latency.py [--rounds 300] [--ner] [--png sensitivity_latency.png]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from smallfirst.config.schema import ResidencyConfig
from smallfirst.core.types import ChatRequest
from smallfirst.sensitivity import Detector

ARTICLE = (
    "The central bank held rates at 4.25% on Thursday, citing sticky services inflation and a labour "
    "market that cooled less than expected in 2024. Analysts at three banks now expect the first cut in "
    "March; markets price a 60% chance. Version 2.1 of the forecast model, released on 2024-11-05, "
    "raises the growth estimate to 1.3% and lowers unemployment to 4.1%. "
)
CODE = (
    "def load(path: str) -> dict:\n    with open(path) as f:\n        cfg = json.load(f)\n"
    "    assert cfg['version'] >= '1.2.3'\n    return cfg  # see http://127.0.0.1:8080/v1/models\n"
)


def _req(messages: list[dict[str, Any]]) -> ChatRequest:
    return ChatRequest(model="smallfirst/auto", messages=messages, body={"messages": messages})


def workloads() -> dict[str, ChatRequest]:
    """Typical request shapes (name → request); sizes printed with the results."""
    system = {"role": "system", "content": "You are a concise assistant. Answer in English."}
    return {
        "short chat (no PII)": _req([system, {"role": "user", "content": "Classify the sentiment: 'Great "
                                     "service, fast delivery, would order again from this shop in 2025.'"}]),
        "support ticket (PII)": _req([system, {"role": "user", "content": (
            "Extract name, email, phone and order id as JSON. Ticket: Hi, I'm Jane Doe "
            "(jane.doe@example.org, +44 20 7946 0958). Order 123456789 arrived broken; card ending 1111. "
            "Please refund to IBAN GB29NWBK60161331926819. Thanks!")}]),
        "tool call round trip": _req([
            system, {"role": "user", "content": "What's the weather in Berlin and email it to my boss?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
                "name": "get_weather", "arguments": json.dumps({"city": "Berlin", "units": "metric"})}}]},
            {"role": "tool", "tool_call_id": "c1", "content": json.dumps(
                {"temp_c": 21.5, "wind_kmh": 12, "updated": "2024-06-01T12:00:00Z"})},
            {"role": "user", "content": "boss is maria.rossi@example.com"}]),
        "2 KB document summary": _req([system, {"role": "user", "content": "Summarise:\n" + ARTICLE * 5}]),
        "code question (1 KB)": _req([system, {"role": "user", "content": "Why does this fail?\n" + CODE * 4}]),
        "8 KB document summary": _req([system, {"role": "user", "content": "Summarise:\n" + ARTICLE * 21}]),
    }


def measure(detector: Detector, request: ChatRequest, rounds: int) -> list[float]:
    for _ in range(min(20, rounds)):
        detector.detect(request)  # warm caches
    out: list[float] = []
    for _ in range(rounds):
        t = time.perf_counter()
        detector.detect(request)
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def chars(request: ChatRequest) -> int:
    return sum(len(json.dumps(m)) for m in request.messages)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--ner", action="store_true", help="also measure with the spaCy NER (needs [pii])")
    ap.add_argument("--png", default=None, help="write a box plot of the latencies to this PNG")
    args = ap.parse_args()

    detectors = {"default": Detector.from_config(ResidencyConfig())}
    if args.ner:
        detectors["default+ner"] = Detector.from_config(ResidencyConfig(ner=True))
    loads = workloads()
    results: dict[str, dict[str, list[float]]] = {}
    print(f"{'detector':<12} {'request':<24} {'chars':>6} {'p50 ms':>8} {'p99 ms':>8}  findings")
    for dname, det in detectors.items():
        results[dname] = {}
        rounds = args.rounds if dname == "default" else max(20, args.rounds // 10)
        for wname, req in loads.items():
            ts = measure(det, req, rounds)
            results[dname][wname] = ts
            print(f"{dname:<12} {wname:<24} {chars(req):>6} {pct(ts, 0.5):>8.3f} {pct(ts, 0.99):>8.3f}  "
                  f"{det.detect(req)}")
        typical = [t for w, ts in results[dname].items() if not w.startswith("8 KB") for t in ts]
        print(f"{dname:<12} {'ALL typical (≤2 KB)':<24} {'':>6} {statistics.median(typical):>8.3f} "
              f"{pct(typical, 0.99):>8.3f}")
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 4 + 1.2 * len(detectors)))
        labels, data = [], []
        for dname, per in results.items():
            for wname, ts in per.items():
                labels.append(f"{dname}: {wname}")
                data.append(ts)
        ax.boxplot(data, orientation="horizontal", showfliers=False)
        ax.set_yticks(range(1, len(labels) + 1), labels)
        ax.set_xscale("log")
        ax.axvline(2.0, color="red", linestyle="--", label="2 ms target (p50)")
        ax.set_xlabel("detect(request) latency, ms (log scale)")
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
