"""Translation between the OpenAI chat shape and Anthropic's Messages API (pure functions, no I/O).

* system/developer messages → ``system``; tool results → ``tool_result`` blocks in a user turn;
  assistant ``tool_calls`` → ``tool_use`` blocks; consecutive same-role turns are merged (the
  Messages API wants alternating roles).
* ``response_format`` (json_schema / json_object) is served by a forced tool whose input schema
  is the requested schema; its input comes back as the message content, so the client sees
  plain JSON text. Non-object schemas are wrapped in ``{"value": ...}`` and unwrapped again.
* ``stop_reason`` → ``finish_reason``; usage input (+ cache reads/writes) and output tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from smallfirst.core.errors import UpstreamBadRequestError
from smallfirst.core.types import ChatChunk, ChatRequest, ChatResponse, Usage

JSON_TOOL = "smallfirst_json_output"
STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
                "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "content_filter"}


@dataclass(frozen=True, slots=True)
class JsonMode:
    """How a JSON ``response_format`` was mapped onto a forced tool."""

    wrapped: bool  # the schema was not an object: the answer sits under "value"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _image(part: Mapping[str, Any]) -> dict[str, Any]:
    url = part.get("image_url")
    url = url.get("url", "") if isinstance(url, dict) else str(url or "")
    if url.startswith("data:") and ";base64," in url:
        media, data = url[5:].split(";base64,", 1)
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    out: list[dict[str, Any]] = []
    for p in content or []:
        if p.get("type") == "text":
            out.append({"type": "text", "text": str(p.get("text", ""))})
        elif p.get("type") == "image_url":
            out.append(_image(p))
    return out


def _arguments(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw if raw is not None else {}
    try:
        return orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise UpstreamBadRequestError(f"tool call arguments are not valid JSON: {raw[:80]!r}",
                                      hint="send arguments as a JSON object string") from None


def to_messages(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """OpenAI messages → (system text, alternating Anthropic messages)."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(_text(m.get("content")))
            continue
        if role == "tool":
            role, blocks = "user", [{"type": "tool_result", "tool_use_id": str(m.get("tool_call_id", "")),
                                     "content": _text(m.get("content"))}]
        elif role == "assistant":
            blocks = _blocks(m.get("content"))
            for call in m.get("tool_calls") or []:
                fn = call.get("function", {})
                blocks.append({"type": "tool_use", "id": str(call.get("id", "")), "name": str(fn.get("name", "")),
                               "input": _arguments(fn.get("arguments"))})
        else:
            role, blocks = "user", _blocks(m.get("content"))
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for t in turns:  # a single text block reads better (and is cheaper to send) as a string
        c = t["content"]
        if len(c) == 1 and c[0]["type"] == "text":
            t["content"] = c[0]["text"]
    return "\n\n".join(s for s in system if s), turns


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
    tools = request.tools or body.get("tools") or []
    if tools:
        out["tools"] = [{"name": t["function"]["name"], "description": t["function"].get("description", ""),
                         "input_schema": t["function"].get("parameters") or {"type": "object", "properties": {}}}
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
    u = u or {}
    prompt = sum(int(u.get(k) or 0) for k in ("input_tokens", "cache_creation_input_tokens",
                                             "cache_read_input_tokens"))
    return Usage(prompt, int(u.get("output_tokens") or 0))


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


@dataclass
class StreamTranslator:
    """Folds Anthropic SSE events into OpenAI-shaped chunks, one event at a time."""

    mode: JsonMode | None
    prompt_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str | None = None
    finished: bool = False
    _tools: dict[int, int] = field(default_factory=dict)  # content block index → tool call index
    _json_blocks: set[int] = field(default_factory=set)
    _json_buffer: list[str] = field(default_factory=list)

    def feed(self, event: Mapping[str, Any]) -> ChatChunk | None:
        kind = event.get("type")
        if kind == "message_start":
            self.prompt_tokens = usage_of(event.get("message", {}).get("usage")).prompt_tokens
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
            self.prompt_tokens = max(self.prompt_tokens, usage_of(u).prompt_tokens)
            return None
        if kind == "message_stop":
            self.finished = True
            finish = STOP_REASONS.get(str(self.stop_reason), "stop")
            if self.mode is not None and finish == "tool_calls" and not self._tools:
                finish = "stop"
            return ChatChunk(delta={}, finish_reason=finish, usage=Usage(self.prompt_tokens, self.output_tokens))
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
