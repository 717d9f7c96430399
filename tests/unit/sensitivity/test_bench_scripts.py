"""The sensitivity bench scripts run, and the templated corpus meets the recall target."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from smallfirst.sensitivity import Detector

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.slow
def test_latency_bench_runs_and_prints_percentiles(tmp_path: Path) -> None:
    png = tmp_path / "lat.png"
    out = subprocess.run([sys.executable, str(BENCH / "sensitivity_latency.py"), "--rounds", "5", "--png", str(png)],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert "ALL typical" in out and "support ticket (PII)" in out and "email×1, iban×1, phone×1" in out
    assert png.stat().st_size > 1000


def test_validated_identifiers_meet_the_recall_target_on_a_fresh_seed() -> None:
    ev = _load("sensitivity_eval")
    samples = ev.build(seed=2024, per_entity=40)
    res = ev.score(Detector(), samples)
    for entity in ev.VALIDATED:
        assert res[entity]["recall"] >= 0.99, (entity, res[entity])
        assert res[entity]["precision"] >= 0.95, (entity, res[entity])
