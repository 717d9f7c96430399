"""Fakes of the local runtimes' status endpoints, on top of the OpenAI-compatible chat fake.

* :class:`FakeLlamaServer` — ggml llama.cpp's ``llama-server`` (``tools/server/README.md``): ``GET /health``
  (200 ``{"status": "ok"}``, 503 ``{"error": {"code": 503, "message": "Loading model", "type":
  "unavailable_error"}}`` while loading), ``GET /props`` (``total_slots``, ``default_generation_settings.n_ctx``,
  ``modalities``), ``GET /slots`` (one object per slot, ``is_processing``). ``busy`` slots are set by the test
  (another client's work); while every slot is busy a chat waits ``queue_delay_s`` for one, as a real server's
  request waits in its queue.
  (llama-cpp-python's ``python -m llama_cpp.server``, which tests/fakes/llama_server.py runs for real, has
  none of these three routes.)
* :class:`FakeLMStudio` — LM Studio's REST API ``GET /api/v0/models`` (``state: "loaded" | "not-loaded"``,
  ``max_context_length``, ``quantization``, ``type``); a chat on a not-loaded model loads it (just-in-time
  loading, after ``load_delay_s``).
* :class:`FakeVLLM` — vLLM's Prometheus ``GET /metrics`` (``vllm:num_requests_running`` / ``waiting``, labelled
  with ``model_name``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from tests.fakes.openai_server import FakeOpenAI


class FakeLlamaServer(FakeOpenAI):
    default_model = "local-model"

    def __init__(self, *, slots: int = 1, n_ctx: int = 4096, vision: bool = False, queue_delay_s: float = 0.0,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.slots, self.n_ctx, self.vision = slots, n_ctx, vision
        self.busy = 0  # slots processing a request
        self.loading = False
        self.queue_delay_s = queue_delay_s

    async def chat(self, request: web.Request) -> web.StreamResponse:
        if self.busy >= self.slots:  # no free slot: the request waits for one
            await asyncio.sleep(self.queue_delay_s)
        return await super().chat(request)

    def routes(self) -> list[web.RouteDef]:
        return [*super().routes(), web.get("/health", self.health), web.get("/props", self.props),
                web.get("/slots", self.slot_list)]

    async def health(self, request: web.Request) -> web.Response:
        if self.loading:
            return web.json_response({"error": {"code": 503, "message": "Loading model",
                                                "type": "unavailable_error"}}, status=503)
        return web.json_response({"status": "ok"})

    async def props(self, request: web.Request) -> web.Response:
        return web.json_response({"default_generation_settings": {"n_ctx": self.n_ctx, "params": {}},
                                  "total_slots": self.slots, "model_path": f"/models/{self.model}.gguf",
                                  "modalities": {"vision": self.vision, "audio": False}, "build_info": "b6000"})

    async def slot_list(self, request: web.Request) -> web.Response:
        return web.json_response([{"id": i, "n_ctx": self.n_ctx // self.slots, "is_processing": i < self.busy}
                                  for i in range(self.slots)])


class FakeLMStudio(FakeOpenAI):
    default_model = "qwen2.5-7b-instruct"

    def __init__(self, *, load_delay_s: float = 0.0, loaded: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.load_delay_s = load_delay_s
        self.loaded = loaded

    def routes(self) -> list[web.RouteDef]:
        return [*super().routes(), web.get("/api/v0/models", self.v0_models)]

    async def v0_models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [
            {"id": self.model, "object": "model", "type": "llm", "publisher": "lmstudio-community", "arch": "qwen2",
             "compatibility_type": "gguf", "quantization": "Q4_K_M", "max_context_length": 32768,
             "state": "loaded" if self.loaded else "not-loaded"}]})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        if not self.loaded:  # just-in-time loading
            await asyncio.sleep(self.load_delay_s)
            self.loaded = True
        return await super().chat(request)


class FakeVLLM(FakeOpenAI):
    default_model = "Qwen/Qwen2.5-7B-Instruct"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.running = 0
        self.waiting = 0

    def routes(self) -> list[web.RouteDef]:
        return [*super().routes(), web.get("/metrics", self.metrics)]

    async def metrics(self, request: web.Request) -> web.Response:
        label = f'engine="0",model_name="{self.model}"'
        text = ("# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
                "# TYPE vllm:num_requests_running gauge\n"
                f"vllm:num_requests_running{{{label}}} {float(self.running)}\n"
                "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"
                "# TYPE vllm:num_requests_waiting gauge\n"
                f"vllm:num_requests_waiting{{{label}}} {float(self.waiting)}\n")
        return web.Response(text=text, content_type="text/plain")
