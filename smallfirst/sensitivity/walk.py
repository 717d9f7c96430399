"""Every piece of text a request would send upstream: message contents and parts, names, tool call
arguments, tool results, and the free-text top-level fields (``user``, ``metadata``, tool descriptions).

Binary payloads (``data:`` image URLs, audio, file data) are skipped: they are not text, and scanning
base64 only yields noise. ``iter_strings`` reads; ``map_strings`` rebuilds a request with each string
replaced (used by redaction).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from smallfirst.core.types import ChatRequest

# top-level body fields (besides ``messages``) whose strings reach the model
BODY_TEXT_KEYS: tuple[str, ...] = (
    "user", "metadata", "prompt", "input", "instructions", "prediction", "tools", "functions",
)
# structural or binary keys whose string values are never scanned
_SKIP_KEYS = frozenset({"role", "type", "id", "tool_call_id", "format", "detail"})
_BLOB_KEYS = frozenset({"data", "file_data"})  # input_audio.data, file.file_data: base64 payloads
MIN_LEN = 6  # no recognised identifier is shorter ("a@b.io")


def _skip(key: str, value: str) -> bool:
    if key in _SKIP_KEYS or (key == "url" and value.startswith("data:")):
        return True
    return key in _BLOB_KEYS and len(value) >= 64 and " " not in value[:256]


def _collect(obj: Any, key: str, out: list[str], min_len: int = MIN_LEN) -> None:
    if isinstance(obj, str):
        if len(obj) >= min_len and not _skip(key, obj):
            out.append(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            # a dict key can carry data too (e.g. metadata {"jane@x.org": ...})
            if isinstance(k, str) and len(k) >= min_len and not isinstance(v, dict | list):
                out.append(k)
            _collect(v, k if isinstance(k, str) else "", out, min_len)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _collect(v, key, out, min_len)


def strings(request: ChatRequest, min_len: int = MIN_LEN) -> list[str]:
    """Each text string of ``request`` that leaves the host if the request does, in order (``min_len``: the
    shortest string returned; the default skips strings too short to hold an identifier, the boundary screen
    passes 2 so a lone name is seen)."""
    out: list[str] = []
    _collect(request.messages, "", out, min_len)
    body = request.body
    for k in BODY_TEXT_KEYS:
        if k in body:
            _collect(body[k], k, out, min_len)
    return out


def iter_strings(request: ChatRequest) -> Iterator[str]:
    """Each text string of ``request`` that leaves the host if the request does."""
    return iter(strings(request))


def _map(obj: Any, key: str, fn: Callable[[str], str]) -> Any:
    if isinstance(obj, str):
        return fn(obj) if len(obj) >= MIN_LEN and not _skip(key, obj) else obj
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            nk = fn(k) if isinstance(k, str) and len(k) >= MIN_LEN and not isinstance(v, dict | list) else k
            out[nk] = _map(v, k if isinstance(k, str) else "", fn)
        return out
    if isinstance(obj, list | tuple):
        return [_map(v, key, fn) for v in obj]
    return obj


def map_strings(request: ChatRequest, fn: Callable[[str], str]) -> ChatRequest:
    """A copy of ``request`` with ``fn`` applied to every string :func:`iter_strings` yields."""
    messages = _map(request.messages, "", fn)
    body = dict(request.body)
    body["messages"] = messages
    for k in BODY_TEXT_KEYS:
        if k in body:
            body[k] = _map(body[k], k, fn)
    tools = body.get("tools") if request.tools is not None else None
    return dataclasses.replace(request, messages=messages, body=body, tools=tools)
