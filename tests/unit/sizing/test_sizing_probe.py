"""The machine probe: the real one on this Linux host, and the NVIDIA/macOS branches with recorded outputs.

The recorded lines are what the real commands print (formats as published in public logs and
tests of other projects, e.g. ``NVIDIA GB10, [N/A], …`` on a DGX Spark whose memory is unified;
``sysctl -n hw.memsize`` on a 128 GiB M5 Max).
"""

from __future__ import annotations

import platform
from collections.abc import Sequence

import pytest

from smallfirst.catalog import Catalog, load_catalog
from smallfirst.core.errors import BadRequestError
from smallfirst.sizing.machine import apple_working_set_share, from_probe, from_profile, os_headroom_gb
from smallfirst.sizing.probe import NVIDIA_SMI_QUERY, parse_nvidia_smi, probe, run_command

RTX_4090 = "NVIDIA GeForce RTX 4090, 24564, 23851\n"
TWO_A100 = "NVIDIA A100-SXM4-80GB, 81920, 81037\nNVIDIA A100-SXM4-40GB, 40960, 40000\n"
GB10 = "NVIDIA GB10, [N/A], [N/A]\n"
M5_MAX = {"hw.memsize": "137438953472\n", "machdep.cpu.brand_string": "Apple M5 Max\n", "iogpu.wired_limit_mb": "0\n"}
M2_PRO_RAISED = {"hw.memsize": "34359738368\n", "machdep.cpu.brand_string": "Apple M2 Pro\n",
                 "iogpu.wired_limit_mb": "28672\n"}


class Recorded:
    """A probe runner that answers from recorded outputs (None = command not installed)."""

    def __init__(self, smi: str | None = None, sysctl: dict[str, str] | None = None) -> None:
        self.smi, self.sysctl = smi, sysctl or {}
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str]) -> str | None:
        self.calls.append(tuple(argv))
        if tuple(argv) == NVIDIA_SMI_QUERY:
            return self.smi
        if argv[0] == "sysctl":
            return self.sysctl.get(argv[-1])
        return None


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog()


def test_real_probe_on_this_machine() -> None:
    found = probe()
    assert found.system == platform.system()
    assert found.ram_total_bytes > 1e9 and 0 < found.ram_available_bytes <= found.ram_total_bytes
    assert found.cpu_cores >= 1 and found.cpu_name


def test_run_command_missing_binary_is_none() -> None:
    assert run_command(("smallfirst-no-such-binary-xyz", "--version")) is None
    assert run_command(("false",)) is None
    assert run_command(("echo", "hi")) == "hi\n"


def test_parse_nvidia_smi_lines() -> None:
    (g,) = parse_nvidia_smi(RTX_4090)
    assert (g.name, g.memory_total_mib, g.memory_free_mib) == ("NVIDIA GeForce RTX 4090", 24564, 23851)
    assert [x.memory_total_mib for x in parse_nvidia_smi(TWO_A100)] == [81920, 40960]
    (spark,) = parse_nvidia_smi(GB10)
    assert spark.name == "NVIDIA GB10" and spark.memory_total_mib is None
    assert parse_nvidia_smi("\n") == ()


def test_nvidia_branch_uses_the_largest_gpu_and_its_profile(cat: Catalog) -> None:
    found = probe(Recorded(smi=RTX_4090), system="Linux")
    m = from_probe(cat, found)
    assert (m.kind, m.backend, m.profile_id) == ("discrete", "cuda", "nvidia-rtx-4090")
    assert m.memory_gb == pytest.approx(24564 * 2**20 / 1e9)
    assert m.usable_gb == pytest.approx(23851 * 2**20 / 1e9)  # free VRAM
    assert m.bandwidth_gbps == 1008 and "nvidia-rtx-4090" in m.bandwidth_source
    big = from_probe(cat, probe(Recorded(smi=TWO_A100), system="Linux"))
    assert big.name == "NVIDIA A100-SXM4-80GB" and big.profile_id is None and big.bandwidth_gbps is None


def test_gb10_reports_no_vram_so_it_is_unified_memory(cat: Catalog) -> None:
    found = probe(Recorded(smi=GB10), system="Linux")
    m = from_probe(cat, found)
    assert (m.kind, m.backend, m.profile_id) == ("unified", "cuda", "nvidia-dgx-spark")
    assert m.usable_gb == pytest.approx(found.ram_total_gb - os_headroom_gb(found.ram_total_gb))
    assert m.bandwidth_gbps == 273


def test_macos_branch_default_working_set(cat: Catalog) -> None:
    runner = Recorded(sysctl=M5_MAX)
    found = probe(runner, system="Darwin")
    assert found.apple_chip == "Apple M5 Max" and found.cpu_name == "Apple M5 Max"
    assert found.ram_total_bytes == 137438953472 and found.apple_wired_limit_mb is None
    assert ("sysctl", "-n", "iogpu.wired_limit_mb") in runner.calls
    m = from_probe(cat, found)
    assert (m.kind, m.backend, m.profile_id, m.bandwidth_gbps) == ("apple", "metal", "apple-m5-max", 614)
    assert m.usable_gb == pytest.approx(0.84 * 137.438953472)


def test_macos_branch_raised_wired_limit(cat: Catalog) -> None:
    found = probe(Recorded(sysctl=M2_PRO_RAISED), system="Darwin")
    assert found.apple_wired_limit_mb == 28672
    m = from_probe(cat, found)
    assert m.usable_gb == pytest.approx(28672 * 2**20 / 1e9) and "wired_limit" in m.usable_basis
    assert m.profile_id is None  # no M2 Pro profile: bandwidth unknown until measured or given
    assert m.bandwidth_gbps is None


def test_apple_share_interpolates_between_cited_points(cat: Catalog) -> None:
    assert apple_working_set_share(cat, 16) == pytest.approx(0.67)
    assert apple_working_set_share(cat, 8) == pytest.approx(0.67)
    assert apple_working_set_share(cat, 36) == pytest.approx(0.75)
    assert apple_working_set_share(cat, 82) == pytest.approx(0.795)
    assert apple_working_set_share(cat, 192) == pytest.approx(0.84)


def test_profiles(cat: Catalog) -> None:
    m5 = from_profile(cat, cat.hardware_profile("apple-m5-max"))
    assert m5.usable_gb == pytest.approx(107.52 * 2**30 / 1e9)  # the cited stock working set
    m16 = from_profile(cat, cat.hardware_profile("apple-16gb-any"))
    assert m16.usable_gb == pytest.approx(10.67)  # the conservative end of 10.67–11.84 GB
    laptop = from_profile(cat, cat.hardware_profile("laptop-16gb-ddr5"))
    assert (laptop.backend, laptop.usable_gb) == ("cpu", pytest.approx(16 - 3.6))
    override = from_profile(cat, cat.hardware_profile("apple-m4"), memory_gb=32)
    assert override.usable_gb == pytest.approx(apple_working_set_share(cat, 32) * 32)
    with pytest.raises(BadRequestError, match="no memory size") as ei:
        from_profile(cat, cat.hardware_profile("apple-m4"))
    assert "--memory-gb" in ei.value.one_line()
    with pytest.raises(BadRequestError, match="must be positive"):
        from_profile(cat, cat.hardware_profile("nvidia-rtx-4090"), memory_gb=0)
    with pytest.raises(BadRequestError, match="must be positive"):
        from_probe(cat, probe(Recorded(), system="Linux"), memory_gb=-1)
