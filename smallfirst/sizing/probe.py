"""Probe this machine: RAM (psutil), NVIDIA GPUs (nvidia-smi), Apple chip and GPU limit (sysctl).

External commands go through a ``Runner`` (argv → stdout, or None when the command is missing or
fails), so the NVIDIA and macOS branches are tested with recorded outputs of the real commands.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psutil

Runner = Callable[[Sequence[str]], str | None]

NVIDIA_SMI_QUERY = ("nvidia-smi", "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits")
SYSCTL_KEYS = ("hw.memsize", "machdep.cpu.brand_string", "iogpu.wired_limit_mb")


def run_command(argv: Sequence[str], timeout_s: float = 5.0) -> str | None:
    """Run a probe command; its stdout, or None if it is not installed, fails or hangs."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


@dataclass(frozen=True, slots=True)
class GpuInfo:
    name: str
    memory_total_mib: int | None  # None: the driver reports no dedicated memory (e.g. GB10 unified)
    memory_free_mib: int | None


@dataclass(frozen=True, slots=True)
class ProbeResult:
    system: str  # platform.system(): Linux, Darwin, Windows
    arch: str
    cpu_name: str
    cpu_cores: int
    ram_total_bytes: int
    ram_available_bytes: int
    gpus: tuple[GpuInfo, ...] = ()
    apple_chip: str | None = None
    apple_wired_limit_mb: int | None = None  # iogpu.wired_limit_mb when raised above the default (0)

    @property
    def ram_total_gb(self) -> float:
        return self.ram_total_bytes / 1e9

    @property
    def ram_available_gb(self) -> float:
        return self.ram_available_bytes / 1e9


def _int_or_none(text: str) -> int | None:
    t = text.strip()
    try:
        return int(float(t))
    except ValueError:
        return None  # "[N/A]", "[Not Supported]"


def parse_nvidia_smi(output: str) -> tuple[GpuInfo, ...]:
    """Parse ``nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits``."""
    gpus: list[GpuInfo] = []
    for line in output.splitlines():
        if not line.strip():
            continue
        name, _, rest = line.partition(",")
        total, _, free = rest.partition(",")
        gpus.append(GpuInfo(name.strip(), _int_or_none(total), _int_or_none(free)))
    return tuple(gpus)


def parse_sysctl_value(output: str | None) -> str | None:
    """The value printed by ``sysctl -n KEY`` (None when the key is unknown)."""
    if output is None:
        return None
    value = output.strip()
    return value or None


def _cpu_name(system: str) -> str:
    if system == "Linux":
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as fh:
                for line in fh:
                    if line.lower().startswith("model name"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
    return platform.processor() or platform.machine() or "unknown CPU"


def probe(runner: Runner = run_command, system: str | None = None) -> ProbeResult:
    """Probe RAM, CPU, NVIDIA GPUs and (on macOS) the Apple chip and its GPU wired-memory limit."""
    sysname = system or platform.system()
    vm = psutil.virtual_memory()
    ram_total, ram_avail = int(vm.total), int(vm.available)
    cores = psutil.cpu_count(logical=False) or psutil.cpu_count(logical=True) or 1
    apple_chip: str | None = None
    wired: int | None = None
    cpu_name = ""
    if sysname == "Darwin":
        memsize = parse_sysctl_value(runner(("sysctl", "-n", "hw.memsize")))
        if memsize and memsize.isdigit():
            ram_total = int(memsize)
        brand = parse_sysctl_value(runner(("sysctl", "-n", "machdep.cpu.brand_string")))
        cpu_name = brand or ""
        if brand and brand.startswith("Apple"):
            apple_chip = brand
        limit = parse_sysctl_value(runner(("sysctl", "-n", "iogpu.wired_limit_mb")))
        if limit and limit.isdigit() and int(limit) > 0:
            wired = int(limit)
    smi = runner(NVIDIA_SMI_QUERY)
    gpus = parse_nvidia_smi(smi) if smi else ()
    return ProbeResult(sysname, platform.machine(), cpu_name or _cpu_name(sysname), int(cores), ram_total,
                       ram_avail, gpus, apple_chip, wired)
