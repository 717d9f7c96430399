"""Read the allocations llama.cpp logs when it loads a GGUF (model, KV cache, compute buffers).

Used to check the memory model against the real runtime: load the model with ``verbose=True``
through llama-cpp-python (the ``[embedded]`` extra), capture its log and sum the
``… buffer size = N MiB`` lines.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass

from smallfirst.core.errors import BadRequestError

_LINE = re.compile(r"(?P<kind>model|KV|compute|output) buffer size\s*=\s*(?P<mib>[\d.]+) MiB")
_TYPES = re.compile(r"- type\s+(?P<type>\w+):\s+(?P<n>\d+) tensors")


@dataclass(frozen=True, slots=True)
class LoggedAllocations:
    model_mib: float
    kv_mib: float
    compute_mib: float
    output_mib: float
    tensor_types: dict[str, int]

    @property
    def total_mib(self) -> float:
        return self.model_mib + self.kv_mib + self.compute_mib + self.output_mib


def parse_allocations(log: str) -> LoggedAllocations:
    """Sum the buffer sizes in a llama.cpp load log (all devices)."""
    sums = {"model": 0.0, "KV": 0.0, "compute": 0.0, "output": 0.0}
    for line in log.splitlines():
        if "matches expectation" in line:  # the context's destructor repeats the compute size
            continue
        hit = _LINE.search(line)
        if hit:
            sums[hit["kind"]] += float(hit["mib"])
    types = {m["type"]: int(m["n"]) for m in _TYPES.finditer(log)}
    return LoggedAllocations(sums["model"], sums["KV"], sums["compute"], sums["output"], types)


def measure_allocations(model_path: str, n_ctx: int, *, flash_attention: bool = False,
                        n_threads: int = 1) -> LoggedAllocations:
    """Load ``model_path`` at ``n_ctx`` and return what llama.cpp logged."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise BadRequestError("llama-cpp-python is not installed",
                              hint="pip install 'smallfirst[embedded]'") from None
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        llm = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, verbose=True,
                    flash_attn=flash_attention)
        llm.close()
    found = parse_allocations(buf.getvalue())
    if found.model_mib == 0:
        raise BadRequestError(f"no allocations found in llama.cpp's log for {model_path}",
                              hint="this llama-cpp-python version logs differently; check with verbose=True")
    return found
