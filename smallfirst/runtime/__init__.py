"""What local runtimes report (Ollama, llama.cpp's llama-server, LM Studio, vLLM): loaded or cold, busy slots
and queue, capabilities — polled off the request path, read by routing (:mod:`smallfirst.policy.latency_budget`,
the balanced tiers' order) and shown in ``/healthz``, ``/metrics`` and the dashboard's health."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from smallfirst.config.schema import EndpointConfig, Settings
from smallfirst.runtime.monitor import RuntimeMonitor, preference
from smallfirst.runtime.probes import KINDS
from smallfirst.runtime.state import EndpointRuntime, RuntimeState

__all__ = ["EndpointRuntime", "RuntimeMonitor", "RuntimeState", "build_monitor", "build_runtimes", "preference",
           "runtime_kind", "with_warm"]

_KIND = {"ollama_native": "ollama", "ollama": "ollama", "llamacpp": "llamacpp", "lmstudio": "lmstudio",
         "vllm": "vllm"}
_DEFAULT_URL = {"ollama": "http://127.0.0.1:11434", "llamacpp": "http://127.0.0.1:8080",
                "lmstudio": "http://127.0.0.1:1234", "vllm": "http://127.0.0.1:8000"}
KEEP_ALIVE_KEEP = -1  # Ollama: keep the model loaded until the server stops (a number: "-1" is not a duration)


def runtime_kind(cfg: EndpointConfig) -> str | None:
    """The runtime whose status endpoints this endpoint's server has (None: not one this package reads)."""
    kind = _KIND.get(cfg.backend)
    return kind if kind in KINDS else None


def warm_mode(cfg: EndpointConfig, settings: Settings) -> str:
    return cfg.warm or settings.routing.warm


def with_warm(cfg: EndpointConfig, settings: Settings) -> EndpointConfig:
    """``cfg`` with the keep_alive its warm mode implies for Ollama when it sets none ("keep": ``-1``,
    "free": Ollama's own default, nothing sent)."""
    if cfg.keep_alive is None and runtime_kind(cfg) == "ollama" and warm_mode(cfg, settings) == "keep":
        return cfg.model_copy(update={"keep_alive": KEEP_ALIVE_KEEP})
    return cfg


def _memory_gbps() -> float | None:
    """The memory bandwidth ``smallfirst plan`` measured and stored on this machine, if any (never measured here)."""
    from smallfirst.sizing.measured import cache_file

    try:
        doc: Any = json.loads(cache_file().read_text(encoding="utf-8"))
        v = doc.get("bandwidth_gbps")
        return float(v) if isinstance(v, (int, float)) and v > 0 else None
    except (OSError, ValueError, AttributeError):
        return None


def build_runtimes(settings: Settings) -> dict[tuple[int, int], EndpointRuntime]:
    """One runtime view per endpoint (tier index, endpoint index) whose server this package can read."""
    out: dict[tuple[int, int], EndpointRuntime] = {}
    mem = _memory_gbps()
    for i, t in enumerate(settings.tiers):
        for j, e in enumerate(t.endpoints):
            kind = runtime_kind(e)
            if kind is None:
                continue
            base = (e.base_url or _DEFAULT_URL[kind]).rstrip("/").removesuffix("/v1")
            out[(i, j)] = EndpointRuntime(e.label, kind, base, e.model, keep_alive=with_warm(e, settings).keep_alive,
                                          keep_warm=warm_mode(e, settings) == "keep",
                                          disk_gbps=settings.routing.load_gbps, memory_gbps=mem)
    return out


def build_monitor(settings: Settings, runtimes: Mapping[tuple[int, int], EndpointRuntime],
                  in_process: Mapping[str, Any]) -> RuntimeMonitor:
    """The monitor over ``runtimes``; ``in_process`` maps the labels of promoted in-process endpoints to their
    backends (kept loaded by the poll when their warm mode is "keep")."""
    r = settings.routing
    warm = [in_process[e.label].health for t in settings.tiers for e in t.endpoints
            if e.promoted and e.label in in_process and warm_mode(e, settings) == "keep"]
    return RuntimeMonitor({rt.name: rt for rt in runtimes.values()}, interval_s=r.runtime_poll_s, in_process=warm)
