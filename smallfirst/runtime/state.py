"""What a local runtime reports about one endpoint, as a frozen value, and the one mutable holder per endpoint.

:class:`RuntimeState` is what the last poll found (reachable, the model loaded or cold, busy slots and the
queue, the capabilities the runtime reports, when). :class:`EndpointRuntime` holds the current state, the
learned load and service times (EWMAs of observed requests) and applies what the runtime reported to the
backend's capabilities (config overrides are applied after it, by :class:`~smallfirst.core.tiers.Endpoint`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from smallfirst.core.types import Capabilities

DISK_GBPS = 1.0  # a conservative read rate for loading weights from disk (NVMe reads 2-7 GB/s, SATA ~0.5)
EWMA_ALPHA = 0.3  # weight of the newest observation
UNKNOWN_SIZE_LOAD_MS = 5000.0  # a cold model whose size the runtime does not report (LM Studio), until observed


@dataclass(frozen=True, slots=True)
class RuntimeState:
    """One poll's findings for one endpoint (``None``: the runtime does not report it)."""

    runtime: str  # ollama, llamacpp, lmstudio, vllm, embedded
    reachable: bool = False
    loaded: bool | None = None  # the endpoint's model is in memory (None: unknown)
    loading: bool = False  # the server is loading a model (llama.cpp /health 503)
    busy: int | None = None  # requests being processed (busy slots, vLLM running)
    slots: int | None = None  # parallel slots (llama.cpp), None where not reported
    queued: int | None = None  # requests waiting for a slot (vLLM waiting)
    size_bytes: int | None = None  # the model's size (on disk, or in VRAM when loaded)
    size_vram: int | None = None
    expires_at: str | None = None  # Ollama: when the model is unloaded unless used
    context_window: int | None = None
    tools: bool | None = None
    images: bool | None = None
    quantization: str | None = None
    parameters: str | None = None  # parameter count as the runtime writes it, e.g. "3.2B"
    error: str | None = None
    last_checked: float = 0.0  # wall-clock time of the poll (0: never polled)

    @property
    def idle(self) -> bool:
        """Nothing running or waiting (unknown counts as idle: nothing says otherwise)."""
        return not self.busy and not self.queued

    @property
    def warm(self) -> bool:
        """Reachable, not loading, and not known to be cold."""
        return self.reachable and not self.loading and self.loaded is not False

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _ewma(old: float | None, new: float) -> float:
    return new if old is None else old + EWMA_ALPHA * (new - old)


@dataclass(slots=True)
class EndpointRuntime:
    """The mutable runtime view of one endpoint: written by the poller and by observed requests, read by the
    router's policies and the tier's order. One per endpoint, owned by the :class:`~.monitor.RuntimeMonitor`."""

    name: str  # the endpoint's label (Backend.name)
    runtime: str
    base_url: str
    model: str
    keep_alive: str | int | None = None
    keep_warm: bool = False  # warm = "keep": loaded at start-up by the monitor
    state: RuntimeState = field(default_factory=lambda: RuntimeState("unknown"))
    load_ms: float | None = None  # learned: the extra latency of a request that found the model cold
    service_ms: float | None = None  # learned: the latency of a request on a warm model
    disk_gbps: float = DISK_GBPS
    memory_gbps: float | None = None  # the sizing module's measured memory bandwidth, when stored
    _base: Capabilities | None = None
    _merged: Capabilities | None = None

    def __post_init__(self) -> None:
        if self.state.runtime == "unknown":
            self.state = RuntimeState(self.runtime)

    # ---- written by the poller and the observer ----------------------------------------------------------

    def update(self, state: RuntimeState) -> None:
        if (state.context_window, state.tools, state.images) != (self.state.context_window, self.state.tools,
                                                                self.state.images):
            self._base = self._merged = None  # capabilities changed: recompute on the next read
        self.state = state

    def observe(self, latency_ms: float, ok: bool) -> None:
        """A request on this endpoint finished: learn the load time (when it found the model cold) or the
        service time, and count the model as loaded afterwards."""
        if not ok:
            return
        if self.state.loaded is False:
            self.load_ms = _ewma(self.load_ms, max(0.0, latency_ms - (self.service_ms or 0.0)))
            self.state = replace(self.state, loaded=True)
        else:
            self.service_ms = _ewma(self.service_ms, latency_ms)

    # ---- read on the request path ------------------------------------------------------------------------

    def estimated_load_ms(self) -> float:
        """Learned from observed cold requests, else the model's size over the slower of disk and memory (a
        flat :data:`UNKNOWN_SIZE_LOAD_MS` when the runtime does not report the size)."""
        if self.load_ms is not None:
            return self.load_ms
        size = self.state.size_bytes
        if size is None:
            return UNKNOWN_SIZE_LOAD_MS
        gbps = min(self.disk_gbps, self.memory_gbps) if self.memory_gbps else self.disk_gbps
        return size / (gbps * 1e9) * 1000.0

    def expected_wait_ms(self) -> float:
        """What a request adds before its own work: the load when cold, the requests ahead of it in the queue."""
        s = self.state
        if not s.last_checked:
            return 0.0  # not polled yet: nothing known against it
        if not s.reachable:
            return float("inf")
        wait = self.estimated_load_ms() if (s.loaded is False or s.loading) else 0.0
        # a request waits for the queue ahead of it, and for a slot when every known slot is busy
        ahead = (s.queued or 0) + (max(0, (s.busy or 0) - s.slots + 1) if s.slots else 0)
        return wait + ahead * (self.service_ms or 0.0)

    def capabilities(self, base: Capabilities) -> Capabilities:
        """``base`` with what the runtime reported (context window, tools, vision); cached per ``base``."""
        s = self.state
        if s.context_window is None and s.tools is None and s.images is None:
            return base
        if base is self._base and self._merged is not None:
            return self._merged
        found: dict[str, Any] = {}
        if s.context_window is not None:
            found["context_window"] = s.context_window
        if s.tools is not None:
            found["tools"] = s.tools
        if s.images is not None:
            found["images"] = s.images
        self._base, self._merged = base, replace(base, **found)
        return self._merged
