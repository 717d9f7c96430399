"""`plan --write` writes the tier mix it planned as `[routing] target_mix`, so the mix governor holds it."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smallfirst.catalog import load_catalog
from smallfirst.cli.main import build
from smallfirst.config.loader import load
from smallfirst.pipeline import build_router
from smallfirst.routing.governed import GovernedRouter
from smallfirst.sizing.cost import Workload
from smallfirst.sizing.machine import from_profile
from smallfirst.sizing.plan import PlanOptions, make_plan
from smallfirst.sizing.writeconfig import write_config

runner = CliRunner()


def test_plan_write_holds_the_planned_mix(tmp_path: Path) -> None:
    cfg = tmp_path / "smallfirst.toml"
    args = ["plan", "--hardware", "apple-m5-max", "--sensitive-share", "0.3", "--local-backend", "ollama",
            "--all-tiers", "--mix", "narrow=0.6,knowledge=0.3,reasoning=0.1", "--write", str(cfg)]
    res = runner.invoke(build(), args, env={"COLUMNS": "220"})
    assert res.exit_code == 0, res.output
    plan = json.loads(runner.invoke(build(), [*args[:-2], "--json"], env={"COLUMNS": "220"}).stdout)["tier_mix"]
    text = cfg.read_text()
    assert "# target_mix: the tier mix this plan computed" in text
    written = tomllib.loads(text)["routing"]["target_mix"]
    assert written == pytest.approx({t: plan[t] for t in ("local", "mid", "frontier")}, abs=1e-3)
    assert written["local"] == pytest.approx(0.6 + 0.3 * 0.4, abs=1e-3)  # the sensitive 30 % stays local
    assert "target_mix: local 72%, mid 21%, frontier 7%" in res.stdout
    settings = load(cfg)
    assert settings.routing.target_mix == written
    router = build_router(settings)  # the rules router, steered toward the planned mix
    assert isinstance(router, GovernedRouter) and router.target == pytest.approx(written)


def test_commented_tiers_comment_the_mix_out(tmp_path: Path) -> None:
    cat = load_catalog()
    machine = from_profile(cat, cat.hardware_profile("apple-m5-max"))
    p = make_plan(cat, machine, Workload(requests_per_day=10_000, tokens_in=500, tokens_out=200), PlanOptions())
    cfg = tmp_path / "here.toml"
    settings = write_config(cfg, p, local_backend="embedded", serve_here=True, environ={})
    text = cfg.read_text()
    assert settings.tier_names == ("local",) and settings.routing.target_mix is None
    assert "# target_mix = {local = " in text and "uncomment it once they are" in text
    both = write_config(tmp_path / "all.toml", p, local_backend="embedded", serve_here=True,
                        environ={"OPENAI_API_KEY": "x", "ANTHROPIC_API_KEY": "y"})
    assert both.routing.target_mix is not None and sum(both.routing.target_mix.values()) == pytest.approx(1.0)


def test_no_local_model_plans_api_tiers_only(tmp_path: Path) -> None:
    cat = load_catalog()
    machine = dataclasses.replace(from_profile(cat, cat.hardware_profile("nvidia-rtx-4090")), usable_gb=0.2)
    p = make_plan(cat, machine, Workload(requests_per_day=10_000, tokens_in=500, tokens_out=200), PlanOptions())
    settings = write_config(tmp_path / "api.toml", p)
    assert settings.tier_names == ("mid", "frontier")
    assert settings.routing.target_mix == pytest.approx({"mid": 0.9, "frontier": 0.1})
