"""A fake Ollama server speaking the native API (shapes from ollama/ollama ``docs/api.md``).

Routes: ``GET /api/version``, ``GET /api/tags``, ``GET /api/ps``, ``POST /api/show``,
``POST /api/generate`` (the documented preload only: no prompt → ``done_reason: "load"``),
``POST /api/chat`` (NDJSON when ``stream`` is true or absent — Ollama streams by default — else
one JSON object; empty ``messages`` loads the model, ``done_reason: "load"``). The model is cold until a
request loads it (``load_delay_s`` then, like a real load); ``keep_alive`` 0 unloads it after the request,
:meth:`FakeOllama.evict` unloads it as Ollama's expiry would; ``/api/ps`` lists it only while loaded.
Unknown models get Ollama's 404 ``{"error": "model ... not found"}``. Options
honoured: ``num_predict`` (→ ``done_reason: "length"``), ``format`` (schema or ``"json"``),
``tools``, ``logprobs``. See :mod:`tests.fakes.base` for faults.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.base import Answer, FakeServer, Fault, estimate_tokens, schema_example, text_of, write_stream

_DETAILS = {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
            "parameter_size": "3.2B", "quantization_level": "Q4_K_M"}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakeOllama(FakeServer):
    default_model = "llama3.2:latest"

    def __init__(self, *, trained_context: int = 131072, num_ctx: int | None = 8192,
                 capabilities: tuple[str, ...] = ("completion", "tools"), load_delay_s: float = 0.0,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.trained_context = trained_context  # model_info["llama.context_length"]
        self.num_ctx = num_ctx  # "num_ctx" line in the model's parameters (None: not set)
        self.capabilities = list(capabilities)  # /api/show "capabilities" (e.g. add "vision")
        self.load_delay_s = load_delay_s  # how long loading a cold model takes
        self.loaded: list[str] = []

    def evict(self) -> None:
        """Unload the model (its keep_alive ran out, or another model needed the memory)."""
        self.loaded = []

    async def _load(self, body: dict[str, Any]) -> None:
        if not self.loaded and self.load_delay_s:
            await asyncio.sleep(self.load_delay_s)
        self.loaded = [self.model]

    def _after(self, body: dict[str, Any]) -> None:
        if body.get("keep_alive") in (0, "0", "0s", "0m"):
            self.loaded = []

    @staticmethod
    def _bad_keep_alive(body: dict[str, Any]) -> web.Response | None:
        """Ollama parses a string keep_alive with Go's time.ParseDuration: "-1" or "300" (no unit) is a 400."""
        v = body.get("keep_alive")
        if isinstance(v, str) and v.strip().lstrip("-").replace(".", "", 1).isdigit() and v.strip() != "0":
            return web.json_response({"error": f'time: missing unit in duration "{v}"'}, status=400)
        return None

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/version", self.version), web.get("/api/tags", self.tags),
                web.get("/api/ps", self.ps), web.post("/api/show", self.show), web.post("/api/chat", self.chat),
                web.post("/api/generate", self.generate)]

    def _known(self, name: str) -> bool:
        return name in (self.model, self.model.removesuffix(":latest"))

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": "0.12.11"})

    def _entry(self) -> dict[str, Any]:
        return {"name": self.model, "model": self.model, "modified_at": "2025-01-01T00:00:00Z",
                "size": 2019393189, "digest": "a80c4f17acd5", "details": _DETAILS}

    async def tags(self, request: web.Request) -> web.Response:
        await self.record(request)
        return web.json_response({"models": [self._entry()]})

    async def ps(self, request: web.Request) -> web.Response:
        await self.record(request)
        models = [{**self._entry(), "expires_at": "2099-01-01T00:00:00Z", "size_vram": 2019393189,
                   "context_length": self.num_ctx or 4096} for _ in self.loaded[:1]]
        return web.json_response({"models": models})

    async def show(self, request: web.Request) -> web.Response:
        rec = await self.record(request)
        name = (rec.body or {}).get("model") or (rec.body or {}).get("name", "")
        if not self._known(name):
            return web.json_response({"error": f"model '{name}' not found"}, status=404)
        params = "stop \"<|eot_id|>\"" + (f"\nnum_ctx {self.num_ctx}" if self.num_ctx else "")
        return web.json_response({
            "modelfile": f"FROM {self.model}", "parameters": params, "template": "{{ .Prompt }}",
            "details": _DETAILS, "modified_at": "2025-01-01T00:00:00Z",
            "model_info": {"general.architecture": "llama", "general.parameter_count": 3212749888,
                           "llama.context_length": self.trained_context, "llama.embedding_length": 3072},
            "capabilities": self.capabilities,
        })

    async def generate(self, request: web.Request) -> web.Response:
        rec = await self.record(request)
        body = rec.body if isinstance(rec.body, dict) else {}
        name = str(body.get("model", ""))
        if not self._known(name):
            return web.json_response({"error": f'model "{name}" not found, try pulling it first'}, status=404)
        if body.get("prompt"):
            return web.json_response({"error": "this fake serves /api/generate's preload only (no prompt)"},
                                     status=501)
        if (bad := self._bad_keep_alive(body)) is not None:
            return bad
        await self._load(body)
        self._after(body)
        return web.json_response({"model": name, "created_at": _now(), "response": "", "done": True,
                                  "done_reason": "unload" if not self.loaded else "load"})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        rec = await self.record(request)
        body = rec.body
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return web.json_response({"error": "invalid request: messages required"}, status=400)
        name = str(body.get("model", ""))
        if not self._known(name):
            return web.json_response({"error": f'model "{name}" not found, try pulling it first'}, status=404)
        if (bad := self._bad_keep_alive(body)) is not None:
            return bad
        if not body["messages"]:  # the documented preload
            await self._load(body)
            self._after(body)
            return web.json_response({"model": name, "created_at": _now(), "message": {"role": "assistant",
                                      "content": ""}, "done_reason": "load", "done": True})
        fault = self.take_fault()
        if await self.before_first_byte(request, fault):
            return web.Response()
        if fault is not None and fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return web.json_response({"error": fault.message or f"fake failure {fault.status}"},
                                     status=fault.status, headers=headers)
        texts = [text_of(m.get("content")) for m in body["messages"]]
        prompt_tokens = estimate_tokens(texts)
        if self.context_window is not None and prompt_tokens > self.context_window:
            return web.json_response({"error": "the input length exceeds the context length"}, status=400)
        await self._load(body)
        self._after(body)
        last_user = next((t for m, t in zip(reversed(body["messages"]), reversed(texts), strict=True)
                          if m.get("role") == "user"), "")
        answer = self._answer(body, last_user)
        done: dict[str, Any] = {
            "model": name, "created_at": _now(), "message": {"role": "assistant", "content": ""}, "done": True,
            "done_reason": "length" if answer.truncated else "stop", "total_duration": 5_000_000,
            "load_duration": 1_000_000, "prompt_eval_count": prompt_tokens, "prompt_eval_duration": 1_000_000,
            "eval_count": max(1, len(answer.words)), "eval_duration": 3_000_000}
        calls = [{"function": {"name": n, "arguments": a}} for n, a in answer.tool_calls]
        if body.get("stream", True):
            lines = [self._line(name, {"role": "assistant", "content": w}, body) for w in answer.words]
            if calls:
                lines.append(self._line(name, {"role": "assistant", "content": "", "tool_calls": calls}, body))
            lines.append(json.dumps(done).encode() + b"\n")
            error = json.dumps({"error": (fault.message if fault else None) or "an error was encountered while "
                                "running the model: unexpected EOF"}).encode() + b"\n"
            response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
            return await write_stream(request, response, lines, fault, error)
        message: dict[str, Any] = {"role": "assistant", "content": answer.text}
        if calls:
            message["tool_calls"] = calls
        done["message"] = message
        if body.get("logprobs"):
            done["logprobs"] = [self._logprob(w) for w in answer.words]
        return web.json_response(done)

    def _answer(self, body: dict[str, Any], last_user: str) -> Answer:
        tools = [t["function"] for t in body.get("tools") or [] if t.get("type") == "function"]
        if tools:
            return self.answer(last_user, None, [(tools[0]["name"], tools[0].get("parameters", {}))])
        fmt = body.get("format")
        if isinstance(fmt, dict):
            return Answer(json.dumps(schema_example(fmt)))
        if fmt == "json":
            return Answer(json.dumps({"echo": last_user}))
        return self.answer(last_user, (body.get("options") or {}).get("num_predict"))

    @staticmethod
    def _logprob(word: str) -> dict[str, Any]:
        return {"token": word, "logprob": -0.05, "bytes": list(word.encode()), "top_logprobs": []}

    def _line(self, name: str, message: dict[str, Any], body: dict[str, Any]) -> bytes:
        obj: dict[str, Any] = {"model": name, "created_at": _now(), "message": message, "done": False}
        if body.get("logprobs") and message.get("content"):
            obj["logprobs"] = [self._logprob(message["content"])]
        return json.dumps(obj).encode() + b"\n"


__all__ = ["FakeOllama", "Fault"]
