"""Validate an OpenAI chat-completions body into a ChatRequest (fast, explicit, clear errors)."""

from __future__ import annotations

from typing import Any

import orjson

from smallfirst.core.content import data_url
from smallfirst.core.errors import BadRequestError
from smallfirst.core.types import ChatRequest

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
RESPONSE_FORMATS = frozenset({"text", "json_object", "json_schema"})


def _bad(msg: str, param: str, hint: str = "") -> BadRequestError:
    return BadRequestError(msg, param=param, hint=hint)


def parse_json(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise _bad("request body is empty", "body", "send a JSON object with 'model' and 'messages'")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise _bad(f"request body is not valid JSON: {err}", "body", "check quoting and commas") from None
    if not isinstance(body, dict):
        raise _bad("request body must be a JSON object", "body")
    return body


# the part types each role may send (OpenAI's chat-completions schema)
PART_TYPES: dict[str, frozenset[str]] = {
    "user": frozenset({"text", "image_url"}), "assistant": frozenset({"text", "refusal"}),
    "system": frozenset({"text"}), "developer": frozenset({"text"}), "tool": frozenset({"text"}),
    "function": frozenset({"text"}),
}
IMAGE_DETAILS = frozenset({"auto", "low", "high"})
_UNSUPPORTED_HINTS = {
    "input_audio": "send a transcript of the audio as a text part",
    "file": "extract the file's text and send it as a text part (images go in image_url parts)",
}


def _check_image(where: str, part: dict[str, Any]) -> None:
    raw = part.get("image_url")
    if isinstance(raw, str):
        part["image_url"] = raw = {"url": raw}  # some clients send the URL itself: normalise to the object
    if not isinstance(raw, dict) or not isinstance(raw.get("url"), str) or not raw["url"]:
        raise _bad(f"{where}.image_url must be an object with a non-empty 'url'", f"{where}.image_url",
                   'send {"type": "image_url", "image_url": {"url": "https://…"}}')
    url: str = raw["url"]
    if url.startswith("data:"):
        parsed = data_url(url)
        if parsed is None or not parsed.data:
            raise _bad(f"{where}.image_url.url is a data: URL that is not base64", f"{where}.image_url.url",
                       "use data:image/png;base64,<base64 bytes>")
        if not parsed.media_type.startswith("image/"):
            raise _bad(f"{where}.image_url.url is a data: URL of type {parsed.media_type!r}, not an image",
                       f"{where}.image_url.url", "send image/png, image/jpeg, image/gif or image/webp data")
    elif not url.startswith(("https://", "http://")):
        raise _bad(f"{where}.image_url.url must be an http(s) URL or a base64 data: URL, got {url[:40]!r}",
                   f"{where}.image_url.url", "use https://… or data:image/png;base64,…")
    detail = raw.get("detail")
    if detail is not None and detail not in IMAGE_DETAILS:
        raise _bad(f"{where}.image_url.detail must be one of {sorted(IMAGE_DETAILS)}, got {detail!r}",
                   f"{where}.image_url.detail", "leave detail out, or use auto, low or high")


def _check_part(where: str, role: str, part: Any) -> None:
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise _bad(f"{where} must be an object with a 'type'", where)
    kind = part["type"]
    allowed = PART_TYPES[role]
    if kind not in allowed:
        known = kind in PART_TYPES["user"] | PART_TYPES["assistant"]
        why = (f"a {role} message cannot carry {kind!r} parts" if known
               else f"content part type {kind!r} is not supported by smallfirst")
        raise _bad(f"{where}: {why} (a {role} message takes {', '.join(sorted(allowed))})", f"{where}.type",
                   _UNSUPPORTED_HINTS.get(kind, "send text parts" + (" and image_url parts" if role == "user" else "")))
    for key in ("text", "refusal"):
        if kind == key and not isinstance(part.get(key), str):
            raise _bad(f"{where}.{key} must be a string", f"{where}.{key}", f'send {{"type": "{key}", "{key}": "…"}}')
    if kind == "image_url":
        _check_image(where, part)


def _check_message(i: int, m: Any) -> None:
    where = f"messages[{i}]"
    if not isinstance(m, dict):
        raise _bad(f"{where} must be an object with 'role' and 'content'", where)
    role = m.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise _bad(f"{where}.role must be one of {sorted(ROLES)}, got {role!r}", f"{where}.role")
    content = m.get("content")
    if content is None:
        if role == "assistant" and (m.get("tool_calls") or m.get("function_call")):
            return
        raise _bad(f"{where}.content is required", f"{where}.content",
                   "only an assistant message with tool_calls may have content null")
    if isinstance(content, str):
        return
    if isinstance(content, list):
        for j, part in enumerate(content):
            _check_part(f"{where}.content[{j}]", role, part)
        return
    raise _bad(f"{where}.content must be a string or a list of content parts", f"{where}.content")


def _opt_number(body: dict[str, Any], key: str, lo: float, hi: float) -> float | None:
    v = body.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        raise _bad(f"'{key}' must be a number between {lo} and {hi}, got {v!r}", key)
    return float(v)


def _opt_int(body: dict[str, Any], key: str, lo: int) -> int | None:
    v = body.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise _bad(f"'{key}' must be an integer >= {lo}, got {v!r}", key)
    return v


def to_request(body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None,
               api_key_id: str | None = None) -> ChatRequest:
    """Validate ``body``; ``headers`` are the raw ASGI headers (only ``x-smallfirst-*`` ones are kept)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("'model' is required and must be a non-empty string", "model",
                   "use 'smallfirst/auto' to let the router choose; GET /v1/models lists the others")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("'messages' is required and must be a non-empty array", "messages")
    for i, m in enumerate(messages):
        _check_message(i, m)
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _bad(f"'stream' must be a boolean, got {stream!r}", "stream")
    so = body.get("stream_options")
    if so is not None and not isinstance(so, dict):
        raise _bad("'stream_options' must be an object", "stream_options")
    n = _opt_int(body, "n", 1)
    if n is not None and n > 1 and stream:  # n > 1 is served by endpoints declaring choices (policy/capability)
        raise _bad("'n' > 1 is served without streaming only", "n", "set stream to false, or send n=1")
    if n is not None and n > 128:
        raise _bad(f"'n' must be at most 128, got {n}", "n")
    max_tokens = _opt_int(body, "max_completion_tokens", 1)
    if max_tokens is None:
        max_tokens = _opt_int(body, "max_tokens", 1)
    temperature = _opt_number(body, "temperature", 0.0, 2.0)
    _opt_number(body, "top_p", 0.0, 1.0)
    rf = body.get("response_format")
    if rf is not None:
        if not isinstance(rf, dict) or not isinstance(rf.get("type"), str) or rf["type"] not in RESPONSE_FORMATS:
            raise _bad(f"'response_format.type' must be one of {sorted(RESPONSE_FORMATS)}", "response_format")
        if rf["type"] == "json_schema":
            js = rf.get("json_schema")
            if not isinstance(js, dict) or not isinstance(js.get("schema", {}), dict):
                raise _bad("'response_format.json_schema' must be an object with a 'schema' object",
                           "response_format.json_schema")
    tools = body.get("tools")
    if tools is not None and (not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools)):
        raise _bad("'tools' must be an array of tool objects", "tools")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _bad("'metadata' must be an object", "metadata")
    logprobs = body.get("logprobs", False)
    if logprobs is not None and not isinstance(logprobs, bool):
        raise _bad("'logprobs' must be a boolean", "logprobs")
    return ChatRequest(
        model=model, messages=messages, body=body, stream=stream,
        include_usage=bool(so and so.get("include_usage")), max_tokens=max_tokens, temperature=temperature,
        response_format=rf if rf is None or rf.get("type") != "text" else None, tools=tools or None,
        logprobs=bool(logprobs), metadata=metadata or {}, api_key_id=api_key_id,
        headers={k.decode("latin-1"): v.decode("latin-1") for k, v in headers or () if k.startswith(b"x-smallfirst-")},
    )
