"""A three-tier gateway on the shipped ``fake`` backend, and a fixed mix of real HTTP traffic for it."""

from __future__ import annotations

from typing import Any

import httpx


def three_tier_config(log_path: str, **server: Any) -> dict[str, Any]:
    return {
        "server": server,
        "log": {"path": log_path, "flush_interval_s": 0.01},
        "tiers": [
            {"name": "local", "endpoints": [{"backend": "fake", "model": "echo", "name": "fake-local"}]},
            # mid is down: what the router sends there escalates to the frontier (upstream_unavailable)
            {"name": "mid", "endpoints": [{"backend": "fake", "model": "echo?fail=unavailable", "name": "fake-mid",
                                           "location": "eu", "price_input_per_mtok": 0.5,
                                           "price_output_per_mtok": 1.5}]},
            {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo?latency_ms=20",
                                                "name": "fake-frontier", "location": "us",
                                                "price_input_per_mtok": 3.0, "price_output_per_mtok": 15.0}]},
        ],
    }


def chat(client: httpx.Client, model: str, text: str, *, stream: bool = False) -> int:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
        with client.stream("POST", "/v1/chat/completions", json=body) as r:
            for _ in r.iter_bytes():
                pass
            return r.status_code
    return client.post("/v1/chat/completions", json=body).status_code


def drive(base_url: str, headers: dict[str, str] | None = None) -> dict[str, int]:
    """Send the fixed traffic; returns {what: count}. Simple tasks stay local; code goes to mid, which is down,
    and escalates to the frontier; pinned requests go to the frontier; unknown models are 404s; one simple
    prompt carries an e-mail address (sensitive: kept local)."""
    sent = {"local": 0, "escalated": 0, "frontier": 0, "not_found": 0, "sensitive": 0}
    with httpx.Client(base_url=base_url, headers=headers or {}, timeout=30) as c:
        for i in range(14):
            assert chat(c, "smallfirst/auto", f"Classify the sentiment: I love item {i}", stream=i % 3 == 0) == 200
            sent["local"] += 1
        for _ in range(4):
            assert chat(c, "smallfirst/auto", "Write a Python function that reverses a linked list") == 200
            sent["escalated"] += 1
        for i in range(2):
            assert chat(c, "smallfirst/frontier", f"Explain item {i} in depth", stream=i == 0) == 200
            sent["frontier"] += 1
        for _ in range(3):
            assert chat(c, "no-such-model", "hi") == 404
            sent["not_found"] += 1
        assert chat(c, "smallfirst/auto", "Extract the name from: mail jane.doe@example.com today") == 200
        sent["sensitive"] += 1
    return sent
