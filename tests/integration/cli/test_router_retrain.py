"""`smallfirst router retrain` on a log written by the real gateway (openai SDK): the running router was
trained on the opposite of what this traffic says, so the candidate wins on the newest prompts and is
promoted (the previous files kept as .bak); retrained again on the same log it does not beat itself and
is kept (exit 3); too little traffic is one line (exit 1); no running artifact is a config error (exit 2)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import openai

from smallfirst.config.loader import parse
from smallfirst.routing import calibrate as C
from smallfirst.routing.learned import ThresholdsFile, thresholds_path_for
from smallfirst.routing.model import LinearRouterModel
from smallfirst.routing.outcomes import Outcome, OutcomeTable
from smallfirst.routing.train import TrainSpec, train
from smallfirst.server.app import create_app
from tests.helpers.gateway import running
from tests.integration.cli.conftest import Run

CONTRACT = {"smallfirst_contract": json.dumps({"regex": "ok.*", "constrain": False})}  # the local echo fails it
TIERS: list[dict[str, Any]] = [
    {"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
    {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo?reply=ok%20fine", "location": "us"}]}]


def poem(i: int) -> str:
    return f"write a short poem about the sea, take {i}"


def maths(i: int) -> str:
    return f"prove that {i} squared plus one has no integer square root"


def serve(db: Path, n: int) -> None:
    """``n`` prompts under a contract the local tier fails (each escalates: local 0); 2 in 5 are poems whose
    frontier answer is judged bad (frontier 0: local was as good), the rest maths (frontier 1)."""
    cfg = {"residency": {"enabled": False}, "tiers": TIERS,
           "log": {"path": str(db), "flush_interval_s": 0.01, "store_prompts": True}}
    with running(create_app(parse(cfg))) as url, \
            openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
        for i in range(n):
            text = poem(i) if i % 5 < 2 else maths(i)
            raw = client.chat.completions.with_raw_response.create(
                model="smallfirst/auto", messages=[{"role": "user", "content": text}], metadata=CONTRACT)
            if text.startswith("write"):
                r = httpx.post(url + raw.headers["x-smallfirst-feedback"], json={"score": 0}, timeout=10)
                assert r.status_code == 200, r.text


def running_router(path: Path) -> None:
    """Trained on the opposite: poems need the frontier, maths are fine locally; calibrated for 50/50."""
    rows = []
    for i in range(100, 160):
        text, local = (poem(i), 0.0) if i % 2 else (maths(i), 1.0)
        rows += [Outcome(f"p{i}", text, "local", local), Outcome(f"p{i}", text, "frontier", 1.0)]
    model = train(OutcomeTable.from_rows(rows, tiers=("local", "frontier")), TrainSpec(folds=3))
    model.save(path)
    assert model.oof is not None
    thr = C.calibrate_mix(model.oof, [0.5, 0.5])
    ThresholdsFile(tiers=model.tiers, thresholds=C.thresholds_dict(model.tiers, thr), method="mix",
                   target_mix={"local": 0.5, "frontier": 0.5}).save(thresholds_path_for(path))


def config(tmp_path: Path, db: Path, artifact: Path) -> Path:
    cfg = tmp_path / "smallfirst.toml"
    tiers = "".join(f'\n[[tiers]]\nname = "{t["name"]}"\n[[tiers.endpoints]]\n'
                    + "".join(f"{k} = {json.dumps(v)}\n" for k, v in t["endpoints"][0].items())
                    for t in TIERS)
    cfg.write_text(f'[routing]\nrouter = "learned"\nartifact = "{artifact}"\n\n[log]\npath = "{db}"\n{tiers}',
                   encoding="utf-8")
    return cfg


def retrain(cli: Run, cfg: Path, *extra: str) -> Any:
    return cli("router", "retrain", "-c", str(cfg), "--since", "1h", "--holdout", "0.25", "--min-heldout", "8",
               "--folds", "3", *extra, timeout=180)


def test_promotes_a_candidate_that_beats_the_running_router_then_keeps_it(cli: Run, tmp_path: Path) -> None:
    db, art = tmp_path / "log.db", tmp_path / "router.npz"
    serve(db, 40)
    running_router(art)
    cfg = config(tmp_path, db, art)
    before, thr_before = art.read_bytes(), thresholds_path_for(art).read_bytes()

    dry = retrain(cli, cfg, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "PROMOTE — candidate APGR" in dry.stdout and "dry run: nothing written" in dry.stdout
    assert "held-out: the newest 10 prompts" in dry.stdout and "running" in dry.stdout
    assert art.read_bytes() == before and not (tmp_path / "router.npz.bak").exists()

    r = retrain(cli, cfg, "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["promote"] and res["train_prompts"] == 30 and res["holdout_prompts"] == 10
    assert res["candidate"]["apgr"] > res["running"]["apgr"] + 0.01
    assert res["written"] == [str(art), str(thresholds_path_for(art))]
    assert (tmp_path / "router.npz.bak").read_bytes() == before
    assert (tmp_path / "router.npz.thresholds.json.bak").read_bytes() == thr_before
    model = LinearRouterModel.load(art)
    assert model.meta["n_train"] == 30 and model.meta["gate"]["heldout"] == 10
    assert ThresholdsFile.load(thresholds_path_for(art)).target_mix == {"local": 0.5, "frontier": 0.5}

    again = retrain(cli, cfg)
    assert again.returncode == 3, again.stderr
    assert "KEEP THE RUNNING ROUTER — candidate APGR" in again.stdout and "does not beat the margin" in again.stdout
    assert LinearRouterModel.load(art).meta["trained_at"] == model.meta["trained_at"]  # nothing written


def test_too_little_traffic_and_no_running_router(cli: Run, tmp_path: Path) -> None:
    db, art = tmp_path / "log.db", tmp_path / "router.npz"
    serve(db, 6)
    cfg = config(tmp_path, db, art)
    r = retrain(cli, cfg)
    assert r.returncode == 2 and "does not exist: there is no running router to beat" in r.stderr
    running_router(art)
    r = retrain(cli, cfg)
    assert r.returncode == 1 and r.stdout == ""
    line = r.stderr.strip().splitlines()[0]
    assert "router retrain needs at least 28 prompts with outcomes for every tier (local, frontier), found 6" in line


def test_a_running_gateway_serves_the_promoted_router_without_a_restart(cli: Run, tmp_path: Path) -> None:
    """The flywheel end to end: a gateway serves with the running router; retrain promotes; the same gateway,
    not restarted, routes with the new one (decisions flip, identity on the admin API)."""
    from smallfirst.config.loader import load
    from smallfirst.routing.reload import sha12

    db, art = tmp_path / "log.db", tmp_path / "router.npz"
    serve(db, 40)
    running_router(art)
    cfg = config(tmp_path, db, art)
    settings = load(cfg)
    settings = settings.model_copy(update={"routing": settings.routing.model_copy(update={"reload_interval_s": 0.05,
                                                                                          "governor_window": 0})})
    fresh = "write a short poem about the sea, take 999"
    with running(create_app(settings)) as url, httpx.Client(base_url=url, timeout=10) as admin, \
            openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
        def tier() -> str:
            raw = client.chat.completions.with_raw_response.create(
                model="smallfirst/auto", messages=[{"role": "user", "content": fresh}])
            return raw.headers["x-smallfirst-tier"]

        assert tier() == "frontier"  # the running router thinks poems need the frontier
        r = retrain(cli, cfg)
        assert r.returncode == 0 and "PROMOTE" in r.stdout, r.stdout + r.stderr
        for _ in range(200):  # the next decisions after the watch saw the files (every 0.05 s)
            if admin.get("/admin/api/router").json()["artifact_sha256"] == sha12(art):
                break
            tier()
            time.sleep(0.02)
        st = admin.get("/admin/api/router").json()
        assert st["artifact_sha256"] == sha12(art) and st["reloads"]["ok"] >= 1 and st["reloads"]["failed"] == 0
        assert tier() == "local"  # the promoted router, served by the same process
