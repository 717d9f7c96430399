"""Short measured probes of this machine: memory copy bandwidth and matrix-multiply throughput.

Both are single-process numpy measurements: a lower bound for what llama.cpp's multi-threaded
kernels reach, and labelled as measured wherever they are used.
"""

from __future__ import annotations

import time


def measure_bandwidth_gbps(size_mb: int = 256, repeats: int = 5) -> float:
    """Best-of-``repeats`` ``numpy.copyto`` rate, counting read + write (GB/s, decimal)."""
    import numpy as np

    n = size_mb * 1_000_000 // 8
    src = np.ones(n, dtype=np.float64)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # touch every page once before timing
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best / 1e9


def measure_matmul_tflops(n: int = 1024, repeats: int = 3) -> float:
    """Best-of-``repeats`` float32 matrix multiply throughput (TFLOPS)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm-up (thread pool start, caches)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e12
