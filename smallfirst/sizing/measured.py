"""The CPU measurement behind ``smallfirst plan``, kept for a week so two plans a minute apart agree.

A single-process numpy probe of memory bandwidth and matmul throughput varies by tens of percent from
run to run on a busy machine, and every per-request figure of a plan scales with it. The first plan
measures and stores the result in ``$SMALLFIRST_CACHE_DIR`` (default ``$XDG_CACHE_HOME/smallfirst`` or
``~/.cache/smallfirst``) under ``machine.json``, keyed by the CPU; later plans reuse it and say so.
``smallfirst plan --measure`` measures again and replaces it.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

MAX_AGE_S = 7 * 86400
CACHE_ENV = "SMALLFIRST_CACHE_DIR"


@dataclass(frozen=True, slots=True)
class CpuFigures:
    bandwidth_gbps: float
    tflops: float
    measured_at: float
    cached: bool

    def source(self, what: str) -> str:
        day = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.measured_at))
        note = f" on {day}, reused (smallfirst plan --measure to redo)" if self.cached else ""
        return f"measured: {what}{note}"


def cache_file() -> Path:
    base = os.environ.get(CACHE_ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                                     os.path.expanduser("~/.cache"), "smallfirst")
    return Path(base) / "machine.json"


def cpu_key(name: str) -> str:
    return f"{platform.machine()}|{name}|{os.cpu_count()}"


def _read(path: Path, key: str, now: float) -> CpuFigures | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("key") != key or now - float(doc["measured_at"]) > MAX_AGE_S:
            return None
        return CpuFigures(float(doc["bandwidth_gbps"]), float(doc["tflops"]), float(doc["measured_at"]), True)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cpu_figures(name: str, *, fresh: bool = False, path: Path | None = None) -> CpuFigures:
    """Bandwidth and matmul throughput of this CPU: the stored figures unless ``fresh`` or stale."""
    from smallfirst.sizing.bench import measure_bandwidth_gbps, measure_matmul_tflops

    target = path or cache_file()
    key, now = cpu_key(name), time.time()
    if not fresh:
        kept = _read(target, key, now)
        if kept is not None:
            return kept
    figures = CpuFigures(round(measure_bandwidth_gbps(), 1), round(measure_matmul_tflops(), 4), now, False)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"key": key, "bandwidth_gbps": figures.bandwidth_gbps,
                                      "tflops": figures.tflops, "measured_at": now}), encoding="utf-8")
    except OSError:
        pass  # a read-only home: measure every time, as before
    return figures
