"""Validate an OpenAI chat-completions body into a ChatRequest (fast, explicit, clear errors)."""

from __future__ import annotations

from typing import Any

import orjson

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
        raise _bad(f"{where}.content is required", f"{where}.content")
    if isinstance(content, str):
        return
    if isinstance(content, list):
        for j, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise _bad(f"{where}.content[{j}] must be an object with a 'type'", f"{where}.content[{j}]")
            if part["type"] == "text" and not isinstance(part.get("text"), str):
                raise _bad(f"{where}.content[{j}].text must be a string", f"{where}.content[{j}].text")
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
    if n is not None and n != 1:
        raise _bad("'n' > 1 is not supported by smallfirst", "n", "send n separate requests")
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
