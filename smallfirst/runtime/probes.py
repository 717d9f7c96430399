"""One poll of one runtime over HTTP: the status endpoints each runtime documents, read by :mod:`.parse`.

A probe never raises for an unreachable runtime: the state says ``reachable=False`` and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp

from smallfirst.runtime import parse
from smallfirst.runtime.state import EndpointRuntime, RuntimeState

DEFAULT_OLLAMA_CTX = 4096  # Ollama's context when neither the model nor the request sets num_ctx


class Fetch:
    """GET/POST JSON or text with one short timeout; a non-2xx answer is returned as its status."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._s = session

    async def json(self, url: str, payload: dict[str, Any] | None = None) -> tuple[int, Any]:
        method = "POST" if payload is not None else "GET"
        async with self._s.request(method, url, json=payload) as r:
            body: Any = await r.json(content_type=None) if r.content_length != 0 else None
            return r.status, body

    async def text(self, url: str) -> tuple[int, str]:
        async with self._s.get(url) as r:
            return r.status, await r.text()


async def probe(rt: EndpointRuntime, fetch: Fetch, clock: Callable[[], float] = time.time) -> RuntimeState:
    """The endpoint's state now, from its runtime's status endpoints."""
    found: dict[str, Any] = {}
    try:
        found = await _PROBES[rt.runtime](rt, fetch)
        reachable = True
    except Exception as exc:  # a poll never fails the monitor: the state says what went wrong
        reachable, found = False, {"error": f"{type(exc).__name__}: {exc}"[:200] or type(exc).__name__}
    keep = {k: v for k, v in found.items() if v is not None}
    return RuntimeState(rt.runtime, reachable=reachable, last_checked=clock(), **keep)


async def _ollama(rt: EndpointRuntime, fetch: Fetch) -> dict[str, Any]:
    out: dict[str, Any] = {}
    status, tags = await fetch.json(f"{rt.base_url}/api/tags")
    if status == 200:
        out.update(parse.ollama_tags(tags, rt.model))
    status, ps = await fetch.json(f"{rt.base_url}/api/ps")
    if status == 200:
        loaded = parse.ollama_ps(ps, rt.model)
        if loaded.get("size_bytes") is None:
            loaded.pop("size_bytes", None)
        out.update(loaded)
    prev = rt.state
    if prev.context_window is not None and prev.reachable:  # /api/show's facts do not change while it runs
        out.update(context_window=prev.context_window, tools=prev.tools, images=prev.images)
    elif "error" not in out:
        status, show = await fetch.json(f"{rt.base_url}/api/show", {"model": rt.model})
        if status == 200:
            out.update({k: v for k, v in parse.ollama_show(show, DEFAULT_OLLAMA_CTX).items() if k not in out})
    return out


async def _llamacpp(rt: EndpointRuntime, fetch: Fetch) -> dict[str, Any]:
    status, _ = await fetch.json(f"{rt.base_url}/health")
    if status == 503:  # {"error": {"code": 503, "message": "Loading model", ...}}
        return {"loading": True, "loaded": False}
    if status == 404:  # llama-cpp-python's server (python -m llama_cpp.server) has no /health, /props, /slots
        return {"error": "no /health here (llama-cpp-python's server reports no slots or load state)"}
    out: dict[str, Any] = {"loaded": status == 200}
    if status != 200:
        out["error"] = f"/health answered {status}"
        return out
    status, props = await fetch.json(f"{rt.base_url}/props")
    if status == 200:
        out.update(parse.llamacpp_props(props))
    status, slots = await fetch.json(f"{rt.base_url}/slots")
    if status == 200:  # 501 when the server runs with --no-slots
        out.update(parse.llamacpp_slots(slots))
    return out


async def _lmstudio(rt: EndpointRuntime, fetch: Fetch) -> dict[str, Any]:
    status, doc = await fetch.json(f"{rt.base_url}/api/v0/models")
    if status != 200:
        return {"error": f"/api/v0/models answered {status} (LM Studio 0.3.6 or later has it)"}
    return parse.lmstudio_models(doc, rt.model)


async def _vllm(rt: EndpointRuntime, fetch: Fetch) -> dict[str, Any]:
    status, text = await fetch.text(f"{rt.base_url}/metrics")
    if status != 200:
        return {"error": f"/metrics answered {status}"}
    return {"loaded": True, **parse.vllm_metrics(text, rt.model)}


_PROBES = {"ollama": _ollama, "llamacpp": _llamacpp, "lmstudio": _lmstudio, "vllm": _vllm}
KINDS = frozenset(_PROBES)
