"""The runtime monitor against protocol-faithful fakes of Ollama, llama.cpp's llama-server, LM Studio and vLLM on
127.0.0.1, and the real llama-cpp-python server's answer (no /health, /props, /slots there)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from smallfirst.config.loader import parse
from smallfirst.runtime import build_monitor, build_runtimes
from smallfirst.runtime.monitor import RuntimeMonitor
from tests.fakes.ollama_server import FakeOllama
from tests.fakes.runtime_servers import FakeLlamaServer, FakeLMStudio, FakeVLLM

pytestmark = pytest.mark.anyio


def monitor(*endpoints: dict[str, object], **routing: object) -> RuntimeMonitor:
    settings = parse({"tiers": [{"name": "local", "endpoints": list(endpoints)}],
                      "routing": {"runtime_poll_s": 0, **routing}})
    return build_monitor(settings, build_runtimes(settings), {})


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama(model="llama3.2:latest", capabilities=("completion", "tools", "vision")) as srv:
        yield srv


async def test_ollama_cold_then_loaded_with_capabilities(ollama: FakeOllama) -> None:
    m = monitor({"backend": "ollama_native", "model": "llama3.2", "base_url": ollama.url}, warm="free")
    rt = m.get("ollama_native:llama3.2")
    assert rt is not None and rt.keep_alive is None and not rt.keep_warm
    await m.refresh()
    s = rt.state
    assert s.reachable and s.loaded is False and s.size_bytes == 2019393189 and s.quantization == "Q4_K_M"
    assert (s.context_window, s.tools, s.images) == (8192, True, True) and not s.warm
    assert m.expected_ms(rt.name) == pytest.approx(2019.4, abs=0.1)  # 2 GB over the assumed 1 GB/s
    await m.prewarm()  # warm = "free": nothing is loaded
    assert not ollama.loaded
    ollama.loaded = [ollama.model]
    await m.refresh()
    assert rt.state.loaded and rt.state.size_vram == 2019393189 and rt.state.expires_at and rt.state.warm
    ollama.evict()
    await m.refresh()
    assert rt.state.loaded is False
    await m.aclose()


async def test_keep_prewarms_with_keep_alive(ollama: FakeOllama) -> None:
    m = monitor({"backend": "ollama_native", "model": "llama3.2", "base_url": ollama.url})
    await m.prewarm()
    (load,) = [r.body for r in ollama.requests if r.path == "/api/generate"]
    assert load == {"model": "llama3.2", "keep_alive": -1} and ollama.loaded  # a number: "-1" is refused
    m2 = monitor({"backend": "ollama_native", "model": "llama3.2", "base_url": ollama.url, "keep_alive": "10m"})
    await m2.prewarm()
    assert ollama.requests[-1].body == {"model": "llama3.2", "keep_alive": "10m"}
    m3 = monitor({"backend": "ollama_native", "model": "llama3.2", "base_url": ollama.url, "keep_alive": "300"})
    await m3.prewarm()
    assert ollama.requests[-1].body == {"model": "llama3.2", "keep_alive": 300}  # seconds, as Ollama reads it
    await m3.aclose()
    await m.aclose()
    await m2.aclose()


async def test_llama_server_slots_and_loading() -> None:
    async with FakeLlamaServer(slots=2, n_ctx=8192) as srv:
        m = monitor({"backend": "llamacpp", "model": "local-model", "base_url": srv.base_url})
        rt = m.get("llamacpp:local-model")
        assert rt is not None
        srv.busy = 2
        await m.refresh()
        assert (rt.state.loaded, rt.state.slots, rt.state.busy, rt.state.context_window) == (True, 2, 2, 8192)
        assert not rt.state.idle
        srv.loading = True
        await m.refresh()
        assert rt.state.loading and not rt.state.warm
        await m.aclose()


async def test_lmstudio_state_and_jit_load() -> None:
    async with FakeLMStudio() as srv:
        m = monitor({"backend": "lmstudio", "model": srv.model, "base_url": srv.base_url})
        rt = m.get(f"lmstudio:{srv.model}")
        assert rt is not None
        await m.refresh()
        assert rt.state.loaded is False and rt.state.context_window == 32768
        await m.prewarm()  # a one-token chat: LM Studio loads the model just in time
        await m.refresh()
        assert rt.state.loaded is True
        await m.aclose()


async def test_vllm_running_and_waiting() -> None:
    async with FakeVLLM() as srv:
        m = monitor({"backend": "vllm", "model": srv.model, "base_url": srv.base_url})
        rt = m.get(f"vllm:{srv.model}")
        assert rt is not None
        srv.running, srv.waiting = 8, 3
        rt.service_ms = 100.0
        await m.refresh()
        assert (rt.state.busy, rt.state.queued, rt.state.loaded) == (8, 3, True)
        assert m.expected_ms(rt.name) == pytest.approx(400.0)  # 3 waiting ahead + its own service time
        await m.aclose()


async def test_unreachable_runtime_is_reported() -> None:
    from tests.fakes.llama_server import free_port

    m = monitor({"backend": "ollama_native", "model": "x", "base_url": f"http://127.0.0.1:{free_port()}"})
    await m.refresh()
    rt = m.get("ollama_native:x")
    assert rt is not None and not rt.state.reachable and rt.state.error and m.expected_ms(rt.name) == float("inf")
    await m.aclose()


async def test_promoted_in_process_models_are_loaded_by_prewarm_and_each_poll() -> None:
    calls: list[str] = []

    async def load() -> None:  # the embedded backend's health(): loads the promoted model when it changed
        calls.append("load")

    m = RuntimeMonitor({}, interval_s=0, in_process=[load])
    assert m  # something to watch: the gateway starts the task
    await m.prewarm()
    assert calls == ["load"]
    await m.aclose()
