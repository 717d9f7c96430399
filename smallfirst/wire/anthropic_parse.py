"""Validate an Anthropic Messages request and translate it into an OpenAI chat-completions body.

The inverse of :mod:`smallfirst.backends.anthropic_map` (which turns OpenAI-shaped requests into
Messages API calls for an Anthropic *backend*). Here an Anthropic *client* talks to the gateway:

* ``system`` (string or text blocks) → a leading system message;
* user ``text``/``image`` blocks → content parts; ``tool_result`` blocks → ``tool`` messages
  (placed before the rest of that user turn, as the Messages API requires them first);
* assistant ``text`` → content, ``tool_use`` → ``tool_calls``; ``thinking`` blocks are dropped;
* ``max_tokens`` (required), ``stop_sequences`` → ``stop``, ``temperature``, ``top_p``, ``tools``
  (``input_schema`` → ``parameters``), ``tool_choice`` (auto/any/tool/none,
  ``disable_parallel_tool_use``), ``metadata.user_id`` → ``user``, ``output_config.format``
  (json_schema) → ``response_format``, ``stream``;
* ``cache_control`` (top level, and on text, image, tool_use and tool_result blocks, system blocks and
  tools) rides on the matching OpenAI part, tool call or tool (see :mod:`smallfirst.core.content`);
  an Anthropic backend sends it on, other backends drop it.

Hints the gateway cannot honour but that do not change what a valid answer is (``top_k``,
``thinking``, ``service_tier`` …) are accepted and ignored; anything else unknown, server tools and
document blocks are a clear 400.
"""

from __future__ import annotations

from typing import Any

import orjson

from smallfirst.core.errors import BadRequestError
from smallfirst.wire.fields import bad, obj, string

SUPPORTED = frozenset({"model", "messages", "max_tokens", "system", "stop_sequences", "temperature", "top_p",
                       "tools", "tool_choice", "metadata", "stream", "output_config", "cache_control"})
IGNORED = frozenset({"top_k", "thinking", "service_tier", "speed", "inference_geo", "diagnostics",
                     "user_profile_id", "workspace_id"})
CACHE_TTLS = ("5m", "1h")
TOOL_CHOICES = ("auto", "any", "tool", "none")


def _number(body: dict[str, Any], key: str, lo: float, hi: float) -> float | None:
    v = body.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        raise bad(f"must be a number between {lo:g} and {hi:g}, got {v!r}", key)
    return float(v)


def _cache(b: dict[str, Any], where: str, out: dict[str, Any]) -> dict[str, Any]:
    """``out`` with the block's ``cache_control`` (validated) when it has one."""
    cc = b.get("cache_control")
    if cc is None:
        return out
    at = f"{where}.cache_control" if where else "cache_control"
    c = obj(cc, at)
    if c.get("type") != "ephemeral" or c.get("ttl", "5m") not in CACHE_TTLS:
        raise bad(f"must be {{'type': 'ephemeral'}} with an optional ttl of {' or '.join(CACHE_TTLS)}, got {c}", at)
    return {**out, "cache_control": c}


def _text(b: dict[str, Any], where: str) -> dict[str, Any]:
    return _cache(b, where, {"type": "text", "text": string(b, "text", where)})


def _collapse(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """A lone plain text part as the string itself (what most backends read best)."""
    if len(parts) == 1 and parts[0]["type"] == "text" and "cache_control" not in parts[0]:
        return str(parts[0]["text"])
    return parts


def _image(b: dict[str, Any], where: str) -> dict[str, Any]:
    src = obj(b.get("source"), f"{where}.source")
    kind = src.get("type")
    if kind == "base64":
        media = string(src, "media_type", f"{where}.source")
        url = f"data:{media};base64,{string(src, 'data', f'{where}.source')}"
    elif kind == "url":
        url = string(src, "url", f"{where}.source")
    else:
        raise bad(f"image source type {kind!r} is not supported", f"{where}.source.type",
                   "send the image as base64 data or a URL")
    return _cache(b, where, {"type": "image_url", "image_url": {"url": url}})


def _tool_result(b: dict[str, Any], where: str) -> dict[str, Any]:
    content = b.get("content")
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    elif isinstance(content, list):
        texts = []
        for k, part in enumerate(content):
            p = obj(part, f"{where}.content.{k}")
            if p.get("type") != "text":
                raise bad(f"tool_result content block type {p.get('type')!r} is not supported (text only)",
                           f"{where}.content.{k}.type", "send the tool's output as text")
            texts.append(string(p, "text", f"{where}.content.{k}"))
        text = "\n".join(texts)
    else:
        raise bad("must be a string or an array of text blocks", f"{where}.content")
    part = _cache(b, where, {"type": "text", "text": text})  # cache_control on the result: on its text part
    return {"role": "tool", "tool_call_id": string(b, "tool_use_id", where), "content": _collapse([part])}


def _blocks(content: Any, where: str) -> list[tuple[str, dict[str, Any], str]]:
    if not isinstance(content, list):
        raise bad("must be a string or an array of content blocks", where)
    out = []
    for j, block in enumerate(content):
        bw = f"{where}.{j}"
        b = obj(block, bw)
        kind = b.get("type")
        if not isinstance(kind, str):
            raise bad("must have a string 'type'", f"{bw}.type")
        out.append((kind, b, bw))
    return out


def _unsupported(kind: str, where: str, role: str) -> BadRequestError:
    if kind == "document":
        return bad("document blocks are not supported by smallfirst", f"{where}.type",
                    "extract the document's text and send it as a text block")
    return bad(f"content block type {kind!r} is not supported in a {role} message", f"{where}.type")


def _user(content: Any, where: str) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for kind, b, bw in _blocks(content, where):
        if kind == "text":
            parts.append(_text(b, bw))
        elif kind == "image":
            parts.append(_image(b, bw))
        elif kind == "tool_result":
            tools.append(_tool_result(b, bw))
        else:
            raise _unsupported(kind, bw, "user")
    return [*tools, {"role": "user", "content": _collapse(parts)}] if parts or not tools else tools


def _assistant(content: Any, where: str) -> dict[str, Any]:
    texts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for kind, b, bw in _blocks(content, where):
        if kind == "text":
            texts.append(_text(b, bw))
        elif kind == "tool_use":
            args = orjson.dumps(obj(b.get("input", {}), f"{bw}.input")).decode()
            calls.append(_cache(b, bw, {"id": string(b, "id", bw), "type": "function",
                                        "function": {"name": string(b, "name", bw), "arguments": args}}))
        elif kind not in ("thinking", "redacted_thinking"):  # the model's own notes: not sent on
            raise _unsupported(kind, bw, "assistant")
    cached = any("cache_control" in t for t in texts)
    text: Any = texts if cached else "".join(t["text"] for t in texts) if texts or not calls else None
    msg: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        msg["tool_calls"] = calls
    return msg


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad("is required and must be a non-empty array", "messages")
    out: list[dict[str, Any]] = []
    system = body.get("system")
    if isinstance(system, str):
        if system:
            out.append({"role": "system", "content": system})
    elif isinstance(system, list):
        texts = []
        for kind, b, bw in _blocks(system, "system"):
            if kind != "text":
                raise bad("system blocks must be text blocks", f"{bw}.type")
            texts.append(_text(b, bw))
        if any("cache_control" in t for t in texts):  # kept as parts, so the breakpoint stays where it was
            out.append({"role": "system", "content": texts})
        elif any(t["text"] for t in texts):
            out.append({"role": "system", "content": "\n\n".join(t["text"] for t in texts if t["text"])})
    elif system is not None:
        raise bad("must be a string or an array of text blocks", "system")
    for i, m in enumerate(messages):
        where = f"messages.{i}"
        msg = obj(m, where)
        role, content = msg.get("role"), msg.get("content")
        if role not in ("user", "assistant"):
            raise bad(f"role must be 'user' or 'assistant', got {role!r}", f"{where}.role",
                       "put system instructions in the top-level 'system' field")
        if isinstance(content, str):
            out.append({"role": role, "content": content})
        elif role == "user":
            out.extend(_user(content, f"{where}.content"))
        else:
            out.append(_assistant(content, f"{where}.content"))
    return out


def _tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise bad("must be an array of tools", "tools")
    fns = []
    for i, t in enumerate(tools):
        tool = obj(t, f"tools.{i}")
        if tool.get("type", "custom") not in ("custom", None):
            raise bad(f"server tool {tool.get('type')!r} is not supported by smallfirst", f"tools.{i}.type",
                       "define a client tool with name, description and input_schema, and run it yourself")
        fn: dict[str, Any] = {"name": string(tool, "name", f"tools.{i}"),
                              "parameters": obj(tool.get("input_schema"), f"tools.{i}.input_schema")}
        if tool.get("description") is not None:
            fn["description"] = string(tool, "description", f"tools.{i}")
        fns.append(_cache(tool, f"tools.{i}", {"type": "function", "function": fn}))
    if fns:
        out["tools"] = fns
    choice = body.get("tool_choice")
    if choice is None:
        return
    c = obj(choice, "tool_choice")
    kind = c.get("type")
    if kind not in TOOL_CHOICES:
        raise bad(f"type must be one of {list(TOOL_CHOICES)}, got {kind!r}", "tool_choice.type")
    if fns:
        out["tool_choice"] = ({"type": "function", "function": {"name": string(c, "name", "tool_choice")}}
                              if kind == "tool" else "required" if kind == "any" else kind)
    if c.get("disable_parallel_tool_use") is True and fns:
        out["parallel_tool_calls"] = False


def _output_format(body: dict[str, Any], out: dict[str, Any]) -> None:
    cfg = body.get("output_config")
    if cfg is None:
        return
    fmt = obj(cfg, "output_config").get("format")
    if fmt is None:
        return
    f = obj(fmt, "output_config.format")
    if f.get("type") != "json_schema":
        raise bad(f"type must be 'json_schema', got {f.get('type')!r}", "output_config.format.type")
    schema = obj(f.get("schema"), "output_config.format.schema")
    out["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


def to_openai(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat-completions body for the Anthropic Messages request ``body`` (validated)."""
    unknown = set(body) - SUPPORTED - IGNORED
    if unknown:
        raise bad(f"field(s) {sorted(unknown)} are not supported by smallfirst", sorted(unknown)[0],
                   f"supported: {', '.join(sorted(SUPPORTED))}")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise bad("field required", "max_tokens", "the Messages API needs max_tokens, e.g. 1024")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise bad(f"must be an integer >= 1, got {max_tokens!r}", "max_tokens")
    out: dict[str, Any] = {"model": body.get("model"), "messages": _messages(body), "max_tokens": max_tokens}
    stream = body.get("stream")
    if stream is not None:
        if not isinstance(stream, bool):
            raise bad(f"must be a boolean, got {stream!r}", "stream")
        out["stream"] = stream
    stop = body.get("stop_sequences")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise bad("must be an array of strings", "stop_sequences")
        if stop:
            out["stop"] = stop
    for key in ("temperature", "top_p"):
        v = _number(body, key, 0.0, 1.0)
        if v is not None:
            out[key] = v
    _tools(body, out)
    _output_format(body, out)
    out.update(_cache(body, "", {}))  # automatic caching: the upstream marks the last cacheable block
    meta = body.get("metadata")
    if meta is not None:
        user = obj(meta, "metadata").get("user_id")
        if user is not None:
            out["user"] = string(meta, "user_id", "metadata")
    return out
