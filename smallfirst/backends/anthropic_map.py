"""Translation between the OpenAI chat shape and Anthropic's Messages API (pure functions, no I/O).

* system/developer messages → ``system``; tool results → ``tool_result`` blocks in a user turn;
  assistant ``tool_calls`` → ``tool_use`` blocks; consecutive same-role turns are merged (the
  Messages API wants alternating roles).
* ``response_format`` (json_schema / json_object) is served by a forced tool whose input schema
  is the requested schema; its input comes back as the message content, so the client sees
  plain JSON text. Non-object schemas are wrapped in ``{"value": ...}`` and unwrapped again.
* ``stop_reason`` → ``finish_reason``; usage: input tokens (cache reads and writes included, and
  counted apart in ``Usage.cache_*``) and output tokens.
* prompt caching: ``cache_control`` on a part, a tool, a tool call or the request goes on the matching
  Anthropic block (on the ``tool_result`` block itself for a tool message: the API refuses it inside
  ``tool_result.content``); a system prompt with one is sent as text blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from smallfirst.core.content import CACHE_CONTROL, flatten, has_cache_control, image_url, last_cache_control
from smallfirst.core.errors import UpstreamBadRequestError
from smallfirst.core.types import ChatChunk, ChatRequest, ChatResponse, Usage

JSON_TOOL = "smallfirst_json_output"
STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
                "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "content_filter"}


@dataclass(frozen=True, slots=True)
class JsonMode:
    """How a JSON ``response_format`` was mapped onto a forced tool."""

    wrapped: bool  # the schema was not an object: the answer sits under "value"


def _cached(block: dict[str, Any], source: Mapping[str, Any]) -> dict[str, Any]:
    return {**block, CACHE_CONTROL: source[CACHE_CONTROL]} if CACHE_CONTROL in source else block


def _image(part: Mapping[str, Any]) -> dict[str, Any]:
    url = image_url(part)
    if url.startswith("data:") and ";base64," in url:
        media, data = url[5:].split(";base64,", 1)
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    out: list[dict[str, Any]] = []
    for p in content or []:
        if p.get("type") in ("text", "refusal"):
            out.append(_cached({"type": "text", "text": flatten([p])}, p))
        elif p.get("type") == "image_url":
            out.append(_cached(_image(p), p))
    return out


def _tool_result(m: Mapping[str, Any]) -> dict[str, Any]:
    content = m.get("content")
    block = {"type": "tool_result", "tool_use_id": str(m.get("tool_call_id", "")), "content": flatten(content)}
    return {**block, CACHE_CONTROL: last_cache_control(content)} if has_cache_control(content) else block


def _system(parts: list[Any]) -> str | list[dict[str, Any]]:
    """The system prompt: one string, or text blocks when a part carries ``cache_control``."""
    if not any(has_cache_control(c) for c in parts):
        return "\n\n".join(s for s in (flatten(c) for c in parts) if s)
    return [b for c in parts for b in _blocks(c) if b["type"] == "text" and b["text"]]


def _arguments(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw if raw is not None else {}
    try:
        return orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise UpstreamBadRequestError(f"tool call arguments are not valid JSON: {raw[:80]!r}",
                                      hint="send arguments as a JSON object string") from None


def to_messages(messages: list[dict[str, Any]]) -> tuple[str | list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI messages → (system prompt, alternating Anthropic messages)."""
    system: list[Any] = []
    turns: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(m.get("content"))
            continue
        if role == "tool":
            role, blocks = "user", [_tool_result(m)]
        elif role == "assistant":
            blocks = _blocks(m.get("content"))
            for call in m.get("tool_calls") or []:
                fn = call.get("function", {})
                blocks.append(_cached({"type": "tool_use", "id": str(call.get("id", "")),
                                       "name": str(fn.get("name", "")), "input": _arguments(fn.get("arguments"))},
                                      call))
        else:
            role, blocks = "user", _blocks(m.get("content"))
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for t in turns:  # a single text block reads better (and is cheaper to send) as a string
        c = t["content"]
        if len(c) == 1 and c[0]["type"] == "text" and CACHE_CONTROL not in c[0]:
            t["content"] = c[0]["text"]
    return _system(system), turns


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    if choice is None:
        out: dict[str, Any] | None = None
    elif choice == "required":
        out = {"type": "any"}
    elif choice in ("auto", "none"):
        out = {"type": choice}
    elif isinstance(choice, dict):
        out = {"type": "tool", "name": str(choice.get("function", {}).get("name", ""))}
    else:
        out = None
    if parallel is False:
        out = {**(out or {"type": "auto"}), "disable_parallel_tool_use": True}
    return out


def to_anthropic(request: ChatRequest, model: str, *, stream: bool,
                 default_max_tokens: int) -> tuple[dict[str, Any], JsonMode | None]:
    """The Messages API body for an OpenAI-shaped request, and the JSON mode used (if any)."""
    body = request.body
    system, turns = to_messages(request.messages)
    max_tokens = request.max_tokens or body.get("max_completion_tokens") or body.get("max_tokens")
    out: dict[str, Any] = {"model": model, "messages": turns, "max_tokens": int(max_tokens or default_max_tokens)}
    if system:
        out["system"] = system
    if stream:
        out["stream"] = True
    temperature = request.temperature if request.temperature is not None else body.get("temperature")
    if temperature is not None:
        out["temperature"] = min(float(temperature), 1.0)  # Anthropic's range is 0..1
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    if isinstance(body.get(CACHE_CONTROL), dict):  # automatic caching: the API marks the last cacheable block
        out[CACHE_CONTROL] = body[CACHE_CONTROL]
    tools = request.tools or body.get("tools") or []
    if tools:
        out["tools"] = [_cached({"name": t["function"]["name"], "description": t["function"].get("description", ""),
                                 "input_schema": t["function"].get("parameters") or {"type": "object",
                                                                                     "properties": {}}}, t)
                        for t in tools if t.get("type") == "function"]
    choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if choice is not None and tools:
        out["tool_choice"] = choice
    fmt = request.response_format or body.get("response_format")
    mode = None
    if isinstance(fmt, Mapping) and fmt.get("type") in ("json_schema", "json_object"):
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt["type"] == "json_schema" else None
        schema = schema or {"type": "object"}
        wrapped = schema.get("type") != "object"
        if wrapped:
            schema = {"type": "object", "properties": {"value": schema}, "required": ["value"]}
        out["tools"] = [*out.get("tools", []), {"name": JSON_TOOL, "description": "Reply with the answer as "
                                                "this tool's input.", "input_schema": schema}]
        out["tool_choice"] = {"type": "tool", "name": JSON_TOOL}
        mode = JsonMode(wrapped)
    return out, mode


def _json_text(value: Any, mode: JsonMode) -> str:
    if mode.wrapped and isinstance(value, dict):
        value = value.get("value")
    return orjson.dumps(value).decode()


def usage_of(u: Mapping[str, Any] | None) -> Usage:
    """Anthropic usage: ``input_tokens`` excludes the cache reads and writes; ``Usage.prompt_tokens`` sums them."""
    u = u or {}
    read, write = int(u.get("cache_read_input_tokens") or 0), int(u.get("cache_creation_input_tokens") or 0)
    split = u.get("cache_creation")
    long = int(split.get("ephemeral_1h_input_tokens") or 0) if isinstance(split, Mapping) else 0
    return Usage(int(u.get("input_tokens") or 0) + read + write, int(u.get("output_tokens") or 0),
                 cache_read_tokens=read, cache_write_tokens=write, cache_write_1h_tokens=min(long, write))


def from_anthropic(data: Mapping[str, Any], mode: JsonMode | None) -> ChatResponse:
    """A Messages API response → ChatResponse in the OpenAI shape."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in data.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use" and mode is not None and block.get("name") == JSON_TOOL:
            texts.append(_json_text(block.get("input"), mode))
        elif kind == "tool_use":
            calls.append({"id": block.get("id", ""), "type": "function",
                          "function": {"name": block.get("name", ""),
                                       "arguments": orjson.dumps(block.get("input") or {}).decode()}})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    finish = STOP_REASONS.get(str(data.get("stop_reason")), "stop")
    if mode is not None and finish == "tool_calls" and not calls:
        finish = "stop"
    return ChatResponse(model=str(data.get("model", "")), message=message, finish_reason=finish,
                        usage=usage_of(data.get("usage")), id=str(data.get("id", "")))


def _most(a: Usage, b: Usage) -> Usage:
    """Field by field the larger: message_delta repeats running totals, or leaves fields out."""
    return Usage(max(a.prompt_tokens, b.prompt_tokens), max(a.completion_tokens, b.completion_tokens),
                 max(a.cache_read_tokens, b.cache_read_tokens), max(a.cache_write_tokens, b.cache_write_tokens),
                 max(a.cache_write_1h_tokens, b.cache_write_1h_tokens))


@dataclass
class StreamTranslator:
    """Folds Anthropic SSE events into OpenAI-shaped chunks, one event at a time."""

    mode: JsonMode | None
    usage: Usage = field(default_factory=Usage)  # input side so far (message_start, message_delta's totals)
    output_tokens: int = 0
    stop_reason: str | None = None
    finished: bool = False
    _tools: dict[int, int] = field(default_factory=dict)  # content block index → tool call index
    _json_blocks: set[int] = field(default_factory=set)
    _json_buffer: list[str] = field(default_factory=list)

    def feed(self, event: Mapping[str, Any]) -> ChatChunk | None:
        kind = event.get("type")
        if kind == "message_start":
            self.usage = _most(self.usage, usage_of(event.get("message", {}).get("usage")))
            return ChatChunk(delta={"role": "assistant", "content": ""})
        if kind == "content_block_start":
            return self._block_start(int(event.get("index", 0)), event.get("content_block") or {})
        if kind == "content_block_delta":
            return self._delta(int(event.get("index", 0)), event.get("delta") or {})
        if kind == "content_block_stop" and int(event.get("index", 0)) in self._json_blocks and self.mode:
            if self.mode.wrapped:  # the wrapper was buffered: unwrap now that it is complete
                raw = "".join(self._json_buffer) or "{}"
                return ChatChunk(delta={"content": _json_text(orjson.loads(raw), self.mode)})
            return None
        if kind == "message_delta":
            self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
            u = event.get("usage") or {}
            self.output_tokens = max(self.output_tokens, int(u.get("output_tokens") or 0))
            self.usage = _most(self.usage, usage_of(u))
            return None
        if kind == "message_stop":
            self.finished = True
            finish = STOP_REASONS.get(str(self.stop_reason), "stop")
            if self.mode is not None and finish == "tool_calls" and not self._tools:
                finish = "stop"
            usage = replace(self.usage, completion_tokens=self.output_tokens)
            return ChatChunk(delta={}, finish_reason=finish, usage=usage)
        return None  # ping, and block kinds with nothing to say in the OpenAI shape

    def _block_start(self, index: int, block: Mapping[str, Any]) -> ChatChunk | None:
        if block.get("type") == "text" and block.get("text"):
            return ChatChunk(delta={"content": block["text"]})
        if block.get("type") != "tool_use":
            return None
        if self.mode is not None and block.get("name") == JSON_TOOL:
            self._json_blocks.add(index)
            return None
        ti = self._tools[index] = len(self._tools)
        return ChatChunk(delta={"tool_calls": [{"index": ti, "id": block.get("id", ""), "type": "function",
                                                "function": {"name": block.get("name", ""), "arguments": ""}}]})

    def _delta(self, index: int, delta: Mapping[str, Any]) -> ChatChunk | None:
        kind = delta.get("type")
        if kind == "text_delta":
            return ChatChunk(delta={"content": delta.get("text", "")})
        if kind != "input_json_delta":
            return None  # thinking, signature and citation deltas
        part = str(delta.get("partial_json", ""))
        if index in self._json_blocks:
            if self.mode is not None and self.mode.wrapped:
                self._json_buffer.append(part)
                return None
            return ChatChunk(delta={"content": part}) if part else None
        if index not in self._tools:
            return None
        return ChatChunk(delta={"tool_calls": [{"index": self._tools[index], "function": {"arguments": part}}]})
