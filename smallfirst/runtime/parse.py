"""What each runtime's status endpoints say, read into :class:`~.state.RuntimeState` fields (pure functions).

Shapes: Ollama ``docs/api.md`` (``/api/tags``, ``/api/ps``, ``/api/show``); llama.cpp ``tools/server/README.md``
(``/health``, ``/props``, ``/slots``); LM Studio's REST API (``/api/v0/models``, ``state: loaded | not-loaded``);
vLLM's Prometheus ``/metrics`` (``vllm:num_requests_running`` / ``vllm:num_requests_waiting``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_METRIC = re.compile(r"^(vllm:num_requests_(?:running|waiting))(?:\{([^}]*)\})?\s+([0-9.eE+-]+)\s*$")


def _named(entry: Mapping[str, Any], model: str) -> bool:
    names = {str(entry.get("name") or ""), str(entry.get("model") or "")}
    return model in names or f"{model}:latest" in names


def ollama_tags(doc: Any, model: str) -> dict[str, Any]:
    """``/api/tags``: is the model pulled, its size on disk, quantisation and parameter count."""
    for m in (doc or {}).get("models") or []:
        if isinstance(m, Mapping) and _named(m, model):
            details = m.get("details") or {}
            return {"size_bytes": _int(m.get("size")), "quantization": details.get("quantization_level"),
                    "parameters": details.get("parameter_size")}
    return {"error": f"model {model!r} is not pulled (ollama pull {model})"}


def ollama_ps(doc: Any, model: str) -> dict[str, Any]:
    """``/api/ps``: the model is loaded when listed; its VRAM size, expiry and loaded context length."""
    for m in (doc or {}).get("models") or []:
        if isinstance(m, Mapping) and _named(m, model):
            return {"loaded": True, "size_vram": _int(m.get("size_vram")), "expires_at": m.get("expires_at"),
                    "size_bytes": _int(m.get("size"))}
    return {"loaded": False}


def ollama_show(doc: Any, default_ctx: int) -> dict[str, Any]:
    """``/api/show``: tools and vision from ``capabilities``; the usable context (``num_ctx`` parameter, else
    Ollama's default, capped by the trained ``<arch>.context_length``)."""
    if not isinstance(doc, Mapping):
        return {}
    out: dict[str, Any] = {}
    caps = doc.get("capabilities")
    if isinstance(caps, list):
        out["tools"] = "tools" in caps
        out["images"] = "vision" in caps
    info = doc.get("model_info") or {}
    arch = info.get("general.architecture")
    trained = _int(info.get(f"{arch}.context_length")) if arch else None
    num_ctx = None
    for line in str(doc.get("parameters") or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "num_ctx" and parts[1].isdigit():
            num_ctx = int(parts[1])
    window = num_ctx or default_ctx
    out["context_window"] = min(window, trained) if trained else window
    details = doc.get("details") or {}
    if details.get("quantization_level"):
        out["quantization"] = details["quantization_level"]
    if details.get("parameter_size"):
        out["parameters"] = details["parameter_size"]
    return out


def llamacpp_props(doc: Any) -> dict[str, Any]:
    """``/props``: total slots, the context size per slot, vision (``modalities``)."""
    if not isinstance(doc, Mapping):
        return {}
    out: dict[str, Any] = {"slots": _int(doc.get("total_slots"))}
    gen = doc.get("default_generation_settings") or {}
    ctx = _int(gen.get("n_ctx")) or _int(doc.get("n_ctx"))
    if ctx:
        out["context_window"] = ctx
    modalities = doc.get("modalities")
    if isinstance(modalities, Mapping) and "vision" in modalities:
        out["images"] = bool(modalities["vision"])
    return out


def llamacpp_slots(doc: Any) -> dict[str, Any]:
    """``/slots``: how many slots are processing a request."""
    if not isinstance(doc, list):
        return {}
    return {"slots": len(doc), "busy": sum(1 for s in doc if isinstance(s, Mapping) and s.get("is_processing"))}


def lmstudio_models(doc: Any, model: str) -> dict[str, Any]:
    """``/api/v0/models``: the model's ``state`` (loaded / not-loaded), context length, quantisation, vision."""
    for m in (doc or {}).get("data") or []:
        if isinstance(m, Mapping) and m.get("id") == model:
            out: dict[str, Any] = {"loaded": m.get("state") == "loaded", "quantization": m.get("quantization")}
            ctx = _int(m.get("loaded_context_length")) or _int(m.get("max_context_length"))
            if ctx:
                out["context_window"] = ctx
            if m.get("type") == "vlm":
                out["images"] = True
            caps = m.get("capabilities")
            if isinstance(caps, list):
                out["tools"] = "tool_use" in caps
            return out
    return {"error": f"model {model!r} is not downloaded in LM Studio (lms get {model})"}


def vllm_metrics(text: str, model: str) -> dict[str, Any]:
    """``/metrics``: running and waiting requests (summed over the series of ``model``, or all when unnamed)."""
    found = {"vllm:num_requests_running": 0.0, "vllm:num_requests_waiting": 0.0}
    seen = False
    for line in text.splitlines():
        m = _METRIC.match(line.strip())
        if m is None:
            continue
        labels = m.group(2) or ""
        if "model_name=" in labels and f'model_name="{model}"' not in labels:
            continue
        found[m.group(1)] += float(m.group(3))
        seen = True
    if not seen:
        return {}
    return {"busy": int(found["vllm:num_requests_running"]), "queued": int(found["vllm:num_requests_waiting"])}


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
