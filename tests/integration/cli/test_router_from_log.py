"""`smallfirst router train --from-log` on a log written by the real gateway: escalations after a failed
contract (local 0, frontier 1) and POST /v1/feedback (the frontier answer judged bad) become outcomes; too
little traffic is one line and exit 1, saying what was found and why rows were skipped."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import openai

from smallfirst.config.loader import parse
from smallfirst.routing.model import LinearRouterModel
from smallfirst.server.app import create_app
from tests.helpers.gateway import running
from tests.integration.cli.conftest import Run

CONTRACT = {"smallfirst_contract": json.dumps({"regex": "ok.*", "constrain": False})}  # the local echo fails it


def config(db: Path, store_prompts: bool = True, shadow: float = 0.0) -> dict[str, Any]:
    return {"residency": {"enabled": False}, "routing": {"shadow_share": shadow},
            "log": {"path": str(db), "flush_interval_s": 0.01,
                                                     "store_prompts": store_prompts},
            "tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
                      {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo?reply=ok%20fine",
                                                          "location": "us"}]}]}


def serve(db: Path, prompts: list[str], *, bad: set[str] = frozenset(), plain: int = 0,  # type: ignore[assignment]
          store_prompts: bool = True) -> None:
    """Each prompt under the contract (escalates); ``bad`` ones get a score 0 on the frontier answer;
    ``plain`` requests without a contract (answered locally, no verdict)."""
    with running(create_app(parse(config(db, store_prompts)))) as url, \
            openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
        for p in prompts:
            raw = client.chat.completions.with_raw_response.create(
                model="smallfirst/auto", messages=[{"role": "user", "content": p}], metadata=CONTRACT)
            assert raw.headers["x-smallfirst-tier"] == "frontier"
            if p in bad:
                r = httpx.post(url + raw.headers["x-smallfirst-feedback"], json={"score": 0}, timeout=10)
                assert r.status_code == 200, r.text
        for i in range(plain):
            client.chat.completions.create(model="smallfirst/auto",
                                           messages=[{"role": "user", "content": f"hello {i}"}])


def test_trains_on_escalations_and_feedback(cli: Run, tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    poems = [f"write a short poem about the sea, take {i}" for i in range(12)]
    maths = [f"prove that {i} squared plus one has no integer square root" for i in range(18)]
    serve(db, poems + maths, bad=set(poems), plain=3)  # the frontier's poems were no better than local's
    out = tmp_path / "router.npz"
    r = cli("router", "train", "--from-log", "--log", str(db), "--since", "1h", "--out", str(out), "--folds", "3")
    assert r.returncode == 0, r.stderr
    assert "30 escalations after a failed check, 12 with feedback" in r.stdout
    assert "3 no verdict and no feedback" in r.stdout
    assert "on 30 prompts (tiers local, frontier" in r.stdout and out.is_file()
    model = LinearRouterModel.load(out)
    assert model.tiers == ("local", "frontier") and model.meta["source"].startswith("request log")
    assert model.meta["n_train"] == 30


def test_too_little_traffic_is_one_line_with_counts(cli: Run, tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    serve(db, [f"question {i}" for i in range(4)], plain=2)
    r = cli("router", "train", "--from-log", "--log", str(db))
    assert r.returncode == 1 and r.stdout == ""
    first = r.stderr.strip().splitlines()[0]
    assert "needs at least 20 prompts with outcomes for every tier (local, frontier), found 4" in first
    assert "6 requests in the log" in first and "2 no verdict and no feedback" in first


def test_no_prompt_text_means_no_tiers(cli: Run, tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    serve(db, [f"question {i}" for i in range(3)], store_prompts=False)
    r = cli("router", "train", "--from-log", "--log", str(db))
    assert r.returncode == 1
    first = r.stderr.strip().splitlines()[0]
    assert "needs outcomes for at least two tiers, found 0 (none)" in first
    assert "3 no prompt text (log.store_prompts off)" in first
    both = cli("router", "train", "x.jsonl", "--from-log")
    assert both.returncode == 2 and "not both" in both.stderr


def test_shadow_runs_and_feedback_on_local_answers_train_too(cli: Run, tmp_path: Path) -> None:
    """Prompts the local tier answered (no contract): the shadow run gives the frontier's outcome, the
    client's feedback on the local answer the local one."""
    db = tmp_path / "log.db"
    with running(create_app(parse(config(db, shadow=1.0)))) as url, \
            openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
        for i in range(24):
            good = i % 2 == 0
            text = f"translate 'cat' to French, take {i}" if good else f"derive the Navier-Stokes equations, take {i}"
            raw = client.chat.completions.with_raw_response.create(
                model="smallfirst/auto", messages=[{"role": "user", "content": text}])
            assert raw.headers["x-smallfirst-tier"] == "local"
            fb = httpx.post(url + raw.headers["x-smallfirst-feedback"], json={"label": "good" if good else "bad"},
                            timeout=10)
            assert fb.status_code == 200, fb.text
        app_rows = 0
        deadline = time.monotonic() + 20
        while app_rows < 48 and time.monotonic() < deadline:  # the shadow rows are written after each answer
            with sqlite3.connect(db) as conn:
                app_rows = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
            time.sleep(0.05)
    r = cli("router", "train", "--from-log", "--log", str(db), "--out", str(tmp_path / "r.npz"), "--folds", "3")
    assert r.returncode == 0, r.stderr
    assert "48 requests in the log" in r.stdout and "24 with feedback, 24 shadow runs" in r.stdout
    assert "on 24 prompts (tiers local, frontier" in r.stdout
