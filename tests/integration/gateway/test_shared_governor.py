"""Two gateways logging to one SQLite file steer on one mix (``routing.governor_scope``).

Gateway A serves 90 % of the traffic and answers locally unless its governor moves a pick up; gateway B
serves 10 % and its local endpoint is down, so every answer there comes from the frontier. Target 80/20.
Per process, A holds *its own* 80/20 and the two together serve 72 % locally — outside the ±3 point band.
Shared, A's governor reads the served tiers of both from the log and moves only what the mix still needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai

from smallfirst.config.loader import parse
from smallfirst.server.app import create_app
from tests.helpers.gateway import running

LOCAL = {"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]}
DOWN = {"name": "local", "endpoints": [{"backend": "fake", "model": "echo?fail=unavailable"}]}
FRONTIER = {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo?reply=big", "name": "big",
                                               "location": "us"}]}
ROUNDS = 170  # 10 requests each: 9 to A, 1 to B


def config(db: Path, local: dict[str, Any], scope: str) -> Any:
    return parse({"tiers": [local, FRONTIER], "residency": {"enabled": False},
                  "log": {"path": str(db), "flush_interval_s": 0.01},
                  "routing": {"target_mix": {"local": 0.8, "frontier": 0.2}, "governor_scope": scope,
                              "governor_refresh_s": 0.05}})


def tier(client: openai.OpenAI) -> str:
    raw = client.chat.completions.with_raw_response.create(model="smallfirst/auto",
                                                          messages=[{"role": "user", "content": "hello"}])
    return raw.headers["x-smallfirst-tier"]


def serve_both(db: Path, scope: str) -> tuple[list[str], Any]:
    a, b = create_app(config(db, LOCAL, scope)), create_app(config(db, DOWN, scope))
    served: list[str] = []
    with running(a) as url_a, running(b) as url_b, \
            openai.OpenAI(base_url=url_a + "/v1", api_key="x", max_retries=0) as ca, \
            openai.OpenAI(base_url=url_b + "/v1", api_key="x", max_retries=0) as cb:
        for _ in range(ROUNDS):
            served += [tier(ca) for _ in range(9)]
            served.append(tier(cb))
    return served, a.pipeline.router


def local_share(served: list[str]) -> float:
    late = served[-600:]
    return late.count("local") / len(late)


def test_one_mix_across_two_gateways_on_one_log(tmp_path: Path) -> None:
    served, router = serve_both(tmp_path / "shared.db", "shared")
    assert abs(local_share(served) - 0.8) <= 0.03, local_share(served)
    assert router.shared is not None and router.shared.reads > 0 and router.shared.error is None


def test_per_process_governors_overshoot_the_shared_target(tmp_path: Path) -> None:
    served, router = serve_both(tmp_path / "private.db", "process")
    assert router.shared is None
    assert local_share(served) < 0.76  # A holds its own 80/20; B's frontier answers come on top
