"""The machine a plan is for: usable memory, backend, bandwidth and compute, with where each came from.

Usable memory is what a model server may fill (weights + KV + compute buffer + runtime reserve):

* discrete NVIDIA GPU: its (free) VRAM;
* Apple Silicon: the Metal working-set limit — ``iogpu.wired_limit_mb`` when raised, else the
  cited default share of RAM (≈0.67 at 16 GB … 0.84 at 128 GB, interpolated);
* unified NVIDIA (DGX Spark) and CPU-only machines: RAM minus an OS/app headroom.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

from smallfirst.catalog import Catalog, HardwareProfile
from smallfirst.catalog.types import HardwareKind
from smallfirst.core.errors import BadRequestError
from smallfirst.sizing.memory import Backend
from smallfirst.sizing.probe import ProbeResult

# OS and other apps keep this much of a CPU/unified machine's RAM: 2 GB + 10 %. An assumption,
# reported in every plan ("assumptions").
OS_HEADROOM_FIXED_GB = 2.0
OS_HEADROOM_SHARE = 0.10


@dataclass(frozen=True, slots=True)
class Machine:
    name: str
    kind: HardwareKind
    backend: Backend
    memory_gb: float
    usable_gb: float
    usable_basis: str
    bandwidth_gbps: float | None = None
    bandwidth_source: str = "unknown"
    tflops: float | None = None
    tflops_source: str = "unknown"
    tflops_measured: bool = False  # an achieved rate (numpy probe), not a datasheet peak
    price_usd: float | None = None
    power_w: float | None = None
    profile_id: str | None = None
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "profile": self.profile_id, "kind": self.kind, "backend": self.backend,
            "memory_gb": round(self.memory_gb, 2), "usable_gb": round(self.usable_gb, 2),
            "usable_basis": self.usable_basis, "bandwidth_gbps": self.bandwidth_gbps,
            "bandwidth_source": self.bandwidth_source, "tflops": self.tflops, "tflops_source": self.tflops_source,
            "price_usd": self.price_usd, "power_w": self.power_w, "source": self.source,
        }

    def with_bandwidth(self, gbps: float, source: str) -> Machine:
        return replace(self, bandwidth_gbps=gbps, bandwidth_source=source)

    def with_tflops(self, tflops: float, source: str, measured: bool = False) -> Machine:
        return replace(self, tflops=tflops, tflops_source=source, tflops_measured=measured)


def apple_working_set_share(cat: Catalog, ram_gb: float) -> float:
    """Default share of unified memory the Metal GPU may wire (cited points, linear in between)."""
    points = [(float(gb), float(share)) for gb, share in cat.runtime["apple_working_set"]]
    if ram_gb <= points[0][0]:
        return points[0][1]
    for (g0, s0), (g1, s1) in itertools.pairwise(points):
        if ram_gb <= g1:
            return s0 + (s1 - s0) * (ram_gb - g0) / (g1 - g0)
    return points[-1][1]


def backend_for(kind: HardwareKind) -> Backend:
    if kind == "apple":
        return "metal"
    return "cpu" if kind == "cpu" else "cuda"


def os_headroom_gb(ram_gb: float) -> float:
    return OS_HEADROOM_FIXED_GB + OS_HEADROOM_SHARE * ram_gb


def _usable(cat: Catalog, kind: HardwareKind, memory_gb: float, working_set_gb: float | None) -> tuple[float, str]:
    if kind == "discrete":
        return memory_gb, "VRAM"
    if kind == "apple":
        if working_set_gb is not None:
            return working_set_gb, "cited default Metal working set for this machine"
        share = apple_working_set_share(cat, memory_gb)
        return share * memory_gb, f"{share:.2f} × RAM (default Metal working set; raise with iogpu.wired_limit_mb)"
    head = os_headroom_gb(memory_gb)
    return max(memory_gb - head, 0.0), f"RAM − {head:.1f} GB OS/app headroom (assumption: 2 GB + 10 %)"


def from_profile(cat: Catalog, profile: HardwareProfile, memory_gb: float | None = None) -> Machine:
    """A machine from a named catalog profile; ``memory_gb`` overrides (or supplies) its memory."""
    mem = memory_gb if memory_gb is not None else profile.max_memory_gb
    if mem is None:
        raise BadRequestError(f"hardware profile {profile.id!r} has no memory size in the catalog",
                              hint="pass --memory-gb (e.g. --memory-gb 32)")
    if mem <= 0:
        raise BadRequestError(f"memory must be positive, got {mem} GB", hint="pass --memory-gb with a size in GB")
    ws = profile.gpu_working_set_gb if memory_gb is None else None
    usable, basis = _usable(cat, profile.kind, float(mem), ws)
    return Machine(
        name=profile.name, kind=profile.kind, backend=backend_for(profile.kind), memory_gb=float(mem), usable_gb=usable,
        usable_basis=basis, bandwidth_gbps=profile.bandwidth_gbps,
        bandwidth_source=profile.source if profile.bandwidth_gbps else "unknown",
        tflops=profile.fp16_tflops, tflops_source=profile.sources.get("fp16_tflops_source", "unknown"),
        price_usd=profile.price_usd, power_w=profile.power_w, profile_id=profile.id, source=profile.source,
    )


def from_probe(cat: Catalog, found: ProbeResult, memory_gb: float | None = None) -> Machine:
    """This machine as probed: the largest NVIDIA GPU if any, else Apple unified memory, else CPU RAM."""
    if memory_gb is not None and memory_gb <= 0:
        raise BadRequestError(f"memory must be positive, got {memory_gb} GB", hint="pass --memory-gb with a size in GB")
    gpus = [g for g in found.gpus if g.memory_total_mib]
    if gpus:
        gpu = max(gpus, key=lambda g: g.memory_total_mib or 0)
        profile = cat.match_hardware(gpu.name)
        total = (gpu.memory_total_mib or 0) * 2**20 / 1e9
        free = (gpu.memory_free_mib or gpu.memory_total_mib or 0) * 2**20 / 1e9
        mem = memory_gb if memory_gb is not None else total
        usable = memory_gb if memory_gb is not None else free
        return Machine(
            name=gpu.name, kind="discrete", backend="cuda", memory_gb=mem, usable_gb=usable,
            usable_basis="free VRAM (nvidia-smi)" if memory_gb is None else "--memory-gb",
            bandwidth_gbps=profile.bandwidth_gbps if profile else None,
            bandwidth_source=f"catalog profile {profile.id}: {profile.source}" if profile else "unknown",
            tflops=profile.fp16_tflops if profile else None,
            tflops_source=profile.sources.get("fp16_tflops_source", "unknown") if profile else "unknown",
            price_usd=profile.price_usd if profile else None, power_w=profile.power_w if profile else None,
            profile_id=profile.id if profile else None, source="probe: nvidia-smi",
        )
    mem = memory_gb if memory_gb is not None else found.ram_total_gb
    chip = found.apple_chip or (found.gpus[0].name if found.gpus else None)
    profile = cat.match_hardware(chip) if chip else None
    if found.apple_chip:
        kind: HardwareKind = "apple"
        if found.apple_wired_limit_mb is not None and memory_gb is None:
            usable, basis = found.apple_wired_limit_mb * 2**20 / 1e9, "iogpu.wired_limit_mb (raised by the user)"
        else:
            usable, basis = _usable(cat, "apple", mem, None)
        backend: Backend = "metal"
    else:
        kind = "unified" if found.gpus else "cpu"  # an NVIDIA GPU without its own memory: unified (GB10)
        backend = "cuda" if found.gpus else "cpu"
        if memory_gb is None and kind == "cpu":
            usable = max(min(found.ram_available_gb, mem - os_headroom_gb(mem)), 0.0)
            basis = "available RAM (psutil), less OS headroom"
        else:
            usable, basis = _usable(cat, kind, mem, None)
    return Machine(
        name=chip or found.cpu_name, kind=kind, backend=backend, memory_gb=mem, usable_gb=usable, usable_basis=basis,
        bandwidth_gbps=profile.bandwidth_gbps if profile else None,
        bandwidth_source=f"catalog profile {profile.id}: {profile.source}" if profile else "unknown",
        price_usd=profile.price_usd if profile else None, power_w=profile.power_w if profile else None,
        profile_id=profile.id if profile else None,
        source="probe: sysctl" if found.apple_chip else "probe: psutil" + (", nvidia-smi" if found.gpus else ""),
    )
