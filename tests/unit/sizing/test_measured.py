"""plan's CPU figures are measured once and reused, so two plans a minute apart agree."""

from __future__ import annotations

import json
import time
from pathlib import Path

from smallfirst.sizing.measured import MAX_AGE_S, cpu_figures, cpu_key


def test_measured_once_then_reused_until_asked_or_stale(tmp_path: Path) -> None:
    path = tmp_path / "machine.json"
    first = cpu_figures("cpu-a", path=path)
    assert not first.cached and first.bandwidth_gbps > 0 and first.tflops > 0
    assert first.source("numpy copy") == "measured: numpy copy"
    again = cpu_figures("cpu-a", path=path)
    assert again.cached and (again.bandwidth_gbps, again.tflops) == (first.bandwidth_gbps, first.tflops)
    assert again.source("numpy copy").startswith("measured: numpy copy on ") and "--measure" in again.source("x")
    assert not cpu_figures("cpu-a", path=path, fresh=True).cached
    assert not cpu_figures("cpu-b", path=path).cached  # another CPU: its own figures
    doc = json.loads(path.read_text())
    assert doc["key"] == cpu_key("cpu-b")
    path.write_text(json.dumps({**doc, "measured_at": time.time() - MAX_AGE_S - 1}))
    assert not cpu_figures("cpu-b", path=path).cached  # a week old: measured again


def test_unreadable_cache_is_measured_again(tmp_path: Path) -> None:
    path = tmp_path / "machine.json"
    path.write_text("{not json")
    assert not cpu_figures("cpu-a", path=path).cached
