"""The learned router follows its files: a replaced artifact is adopted, a corrupt one kept out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from smallfirst.config.loader import parse
from smallfirst.core.types import ChatRequest
from smallfirst.pipeline import build_router
from smallfirst.routing.learned import LearnedRouter
from smallfirst.routing.outcomes import Outcome, OutcomeTable
from smallfirst.routing.reload import ReloadableRouter, reloadable, sha12
from smallfirst.routing.train import TrainSpec, train
from smallfirst.signals import extract

EASY = "Translate into French: the garden is red"
HARD = "Plan a multi-step strategy to analyse copper trade-offs and justify it"


def req(text: str) -> ChatRequest:
    return ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": text}], body={})


def artifact(rows: list[Outcome], path: Path, *, inverted: bool = False) -> Path:
    if inverted:  # easy prompts need the frontier, hard ones are fine locally
        rows = [Outcome(r.prompt_id, r.prompt, r.tier, 1.0 - r.score if r.tier == "local" else r.score)
                for r in rows]
    model = train(OutcomeTable.from_rows(rows, tiers=("local", "frontier")), TrainSpec(folds=3, bits=14, c=1.0))
    return model.save(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a router trained on the synthetic rows, one trained on them inverted), trained once."""
    from tests.unit.routing.conftest import synthetic_rows

    d = tmp_path_factory.mktemp("trained")
    return artifact(synthetic_rows(), d / "a.npz"), artifact(synthetic_rows(), d / "b.npz", inverted=True)


def copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


def settings(art: Path, **routing: Any) -> Any:
    return parse({"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "a"}]},
                            {"name": "frontier", "endpoints": [{"backend": "fake", "model": "b"}]}],
                  "routing": {"router": "learned", "artifact": str(art), "governor_window": 0, **routing}})


def replace(src: Path, dst: Path) -> None:
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.write_bytes(src.read_bytes())
    os.replace(tmp, dst)


def pick(router: Any, text: str) -> str:
    r = req(text)
    tier: str = router.choose(r, extract(r), ("local", "frontier")).tier
    return tier


def test_replaced_artifact_is_adopted_after_the_interval(tmp_path: Path, trained: tuple[Path, Path]) -> None:
    live, new = copy(trained[0], tmp_path / "router.npz"), trained[1]
    clock = [0.0]
    router = ReloadableRouter(settings(live, reload_interval_s=5.0), background=False, clock=lambda: clock[0])
    assert isinstance(router, LearnedRouter) and router.identity.artifact_sha256 == sha12(live)
    assert (pick(router, EASY), pick(router, HARD)) == ("local", "frontier")
    replace(new, live)
    assert pick(router, EASY) == "local"  # not looked at before the interval
    clock[0] = 5.0
    assert (pick(router, EASY), pick(router, HARD)) == ("frontier", "local")
    assert router.identity.artifact_sha256 == sha12(new) and router.reloads == {"ok": 1, "failed": 0}
    assert router.identity.n_train == 240 and router.identity.trained_at


def test_a_corrupt_artifact_is_kept_out_until_it_changes(tmp_path: Path, trained: tuple[Path, Path]) -> None:
    live = copy(trained[0], tmp_path / "router.npz")
    good = sha12(live)
    clock = [0.0]
    router = ReloadableRouter(settings(live, reload_interval_s=1.0), background=False, clock=lambda: clock[0])
    bad = tmp_path / "bad.npz"
    bad.write_bytes(live.read_bytes()[:200])  # truncated
    replace(bad, live)
    clock[0] = 1.0
    assert (pick(router, EASY), pick(router, HARD)) == ("local", "frontier")  # still the running router
    assert router.reloads == {"ok": 0, "failed": 1} and router.identity.artifact_sha256 == good
    assert router.error is not None and "not readable" in router.error  # a truncated npz
    clock[0] = 2.0
    pick(router, EASY)
    assert router.reloads["failed"] == 1  # the same bad file is not loaded again
    status = router.reload()  # on demand it is tried again, and refused again
    assert status["reloaded"] is False and status["artifact_sha256"] == good and router.reloads["failed"] == 2


def test_thresholds_file_change_is_a_reload(tmp_path: Path, trained: tuple[Path, Path]) -> None:
    from smallfirst.routing.learned import ThresholdsFile, thresholds_path_for

    live = copy(trained[0], tmp_path / "router.npz")
    router = ReloadableRouter(settings(live, reload_interval_s=0), background=False)
    assert not router.calibrated and router.identity.thresholds_sha256 is None
    ThresholdsFile(tiers=("local", "frontier"), thresholds={"local": 0.999}, method="mix",
                   target_mix={"local": 0.1, "frontier": 0.9}).save(thresholds_path_for(live))
    assert pick(router, EASY) == "local"  # interval 0: no watch, only on demand
    assert router.reload()["reloaded"] is True
    assert pick(router, EASY) == "frontier" and router.calibrated and router.identity.thresholds_sha256


def test_found_inside_the_mix_governor(tmp_path: Path, trained: tuple[Path, Path]) -> None:
    live = copy(trained[0], tmp_path / "router.npz")
    s = settings(live, governor_window=500, target_mix={"local": 0.5, "frontier": 0.5})
    router = build_router(s)
    inner = reloadable(router)
    assert inner is not None and router is not inner and getattr(router, "inner", None) is inner
    assert reloadable(object()) is None


def test_a_start_up_failure_is_still_a_config_error(tmp_path: Path) -> None:
    from smallfirst.core.errors import ConfigError

    with pytest.raises(ConfigError, match="not found"):
        ReloadableRouter(settings(tmp_path / "missing.npz"))


def test_a_truncated_artifact_at_start_up_is_a_config_error(tmp_path: Path, trained: tuple[Path, Path]) -> None:
    from smallfirst.core.errors import ConfigError

    bad = tmp_path / "router.npz"
    bad.write_bytes(trained[0].read_bytes()[:300])
    with pytest.raises(ConfigError, match="is not readable"):
        ReloadableRouter(settings(bad))
