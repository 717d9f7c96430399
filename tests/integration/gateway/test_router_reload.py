"""The running gateway follows its learned router's artifact without a restart (openai SDK, real uvicorn).

A replaced artifact is adopted within ``routing.reload_interval_s`` (the decisions flip), a corrupt one is
kept out (the running router keeps deciding; the failure is on /metrics and the admin API), and
``POST /admin/router/reload`` loads on demand (422 while the file is bad, 200 once it is good).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from smallfirst.routing.outcomes import Outcome, OutcomeTable
from smallfirst.routing.reload import sha12
from smallfirst.routing.train import TrainSpec, train
from tests.integration.gateway.conftest import GatewayFactory
from tests.unit.routing.conftest import synthetic_rows

EASY = "Translate into French: the garden is red"
HARD = "Plan a multi-step strategy to analyse copper trade-offs and justify it"
TIERS = [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
         {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo?reply=big", "name": "big",
                                             "location": "us"}]}]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(trained on the synthetic rows: easy → local; trained on them inverted: easy → frontier)."""
    d = tmp_path_factory.mktemp("routers")
    rows = synthetic_rows()
    flipped = [Outcome(r.prompt_id, r.prompt, r.tier, 1.0 - r.score if r.tier == "local" else r.score) for r in rows]
    out = []
    for name, rs in (("a.npz", rows), ("b.npz", flipped)):
        model = train(OutcomeTable.from_rows(rs, tiers=("local", "frontier")), TrainSpec(folds=3, bits=14, c=1.0))
        out.append(model.save(d / name))
    return out[0], out[1]


def put(src: bytes, dst: Path) -> None:
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.write_bytes(src)
    os.replace(tmp, dst)


def tier(client: openai.OpenAI, text: str) -> str:
    raw = client.chat.completions.with_raw_response.create(model="smallfirst/auto",
                                                          messages=[{"role": "user", "content": text}])
    return raw.headers["x-smallfirst-tier"]


def until(client: openai.OpenAI, text: str, want: str, seconds: float = 10.0) -> int:
    """Requests sent until ``text`` is routed to ``want``."""
    deadline, n = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        n += 1
        if tier(client, text) == want:
            return n
        time.sleep(0.02)
    raise AssertionError(f"{text!r} never went to {want}")


def test_hot_reload_and_a_corrupt_artifact_kept_out(gateway: GatewayFactory, tmp_path: Path,
                                                     artifacts: tuple[Path, Path]) -> None:
    a, b = artifacts
    live = tmp_path / "router.npz"
    put(a.read_bytes(), live)
    cfg: dict[str, Any] = {"tiers": TIERS, "residency": {"enabled": False},
                           "routing": {"router": "learned", "artifact": str(live), "reload_interval_s": 0.05,
                                       "governor_window": 0}}
    with gateway(cfg) as (url, _app), httpx.Client(base_url=url, timeout=10) as admin, \
            openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
        assert admin.get("/admin/api/router").json()["artifact_sha256"] == sha12(a)
        assert (tier(client, EASY), tier(client, HARD)) == ("local", "frontier")

        put(b.read_bytes(), live)  # promoted: a new artifact, mid-run
        until(client, EASY, "frontier")
        assert tier(client, HARD) == "local"
        st = admin.get("/admin/api/router").json()
        assert st["artifact_sha256"] == sha12(b) and st["reloads"] == {"ok": 1, "failed": 0} and st["error"] is None
        assert f'smallfirst_router_info{{artifact_sha256="{sha12(b)}"' in admin.get("/metrics").text

        put(b"PK\x03\x04 not really a zip", live)  # a corrupt file replaces it
        time.sleep(0.2)
        assert [tier(client, EASY) for _ in range(20)] == ["frontier"] * 20  # still the running router
        st = admin.get("/admin/api/router").json()
        assert st["artifact_sha256"] == sha12(b) and st["reloads"]["failed"] == 1 and "not readable" in st["error"]
        assert 'smallfirst_router_reloads_total{result="failed"} 1.0' in admin.get("/metrics").text
        r = admin.post("/admin/router/reload")
        assert r.status_code == 422 and r.json()["reloaded"] is False and r.json()["artifact_sha256"] == sha12(b)

        put(a.read_bytes(), live)
        r = admin.post("/admin/router/reload")  # on demand, no waiting for the watch
        assert r.status_code == 200 and r.json()["reloaded"] is True and r.json()["artifact_sha256"] == sha12(a)
        assert tier(client, EASY) == "local"


def test_reload_route_on_a_router_without_artifact(gateway: GatewayFactory) -> None:
    with gateway({"tiers": TIERS}) as (url, _app), httpx.Client(base_url=url, timeout=10) as admin:
        r = admin.post("/admin/router/reload")
        assert r.status_code == 400 and "router (rules) has no artifact to reload" in r.json()["error"]["message"]
        assert admin.get("/admin/api/router").json()["router"] == "rules"
        assert 'smallfirst_router_info{artifact_sha256="",router="rules"' in admin.get("/metrics").text
