"""What a request needs from the endpoint that answers it, read once from the request.

*Hard* needs cannot be met by an endpoint without the capability (it would answer something else):
image parts need ``images``; a forced tool call (``tool_choice`` ``"required"`` or a named function)
needs ``tools`` or ``named_tools``; ``n > 1`` needs ``choices``.

*Soft* needs are met better by an endpoint with the capability, but any endpoint can answer: tools with
``tool_choice`` ``"auto"`` (the model may answer in prose), a conversation that already carries tool
calls or tool results (only a tool-capable tier can continue it well), a JSON schema. Logprobs are not a
routing need: an endpoint without them answers without them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

IMAGE_PARTS = frozenset({"image_url", "image", "input_image"})


class Capabilities(Protocol):
    """What :class:`Needs` reads of an endpoint's ``smallfirst.core.types.Capabilities`` (structural, so
    this module does not import ``types``, which imports it)."""

    @property
    def images(self) -> bool: ...
    @property
    def tools(self) -> bool: ...
    @property
    def named_tools(self) -> bool: ...
    @property
    def choices(self) -> bool: ...
    @property
    def json_schema(self) -> bool: ...


class ChatRequest(Protocol):
    """What :func:`needs_of` reads of a ``smallfirst.core.types.ChatRequest``."""

    @property
    def body(self) -> Mapping[str, Any]: ...
    @property
    def messages(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def tools(self) -> Sequence[Any] | None: ...
    @property
    def response_format(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Needs:
    images: bool = False
    forced_tool: bool = False  # tool_choice "required" or a named function
    single_tool: bool = False  # the forced call can only be one tool (named, or required with one tool)
    tools: bool = False  # tools offered with tool_choice auto
    tool_history: bool = False  # the messages carry tool calls or tool results
    json_schema: bool = False
    choices: int = 1

    def missing(self, caps: Capabilities) -> tuple[str, ...]:
        """The hard needs ``caps`` does not meet, as readable phrases (empty: it can serve the request)."""
        out: list[str] = []
        if self.images and not caps.images:
            out.append("image input")
        if self.forced_tool and not (caps.tools or (caps.named_tools and self.single_tool)):
            out.append("forced tool calls" if not self.single_tool else "a named tool call")
        if self.choices > 1 and not caps.choices:
            out.append(f"n={self.choices} answers in one call")
        return tuple(out)

    def prefers(self, caps: Capabilities) -> bool:
        """True when ``caps`` also meets the soft needs."""
        if (self.tools or self.tool_history) and not caps.tools:
            return False
        return not (self.json_schema and not caps.json_schema)

    @property
    def hard(self) -> bool:
        return self.images or self.forced_tool or self.choices > 1

    @property
    def soft(self) -> bool:
        return self.tools or self.tool_history or self.json_schema


NONE = Needs()


def _has_image(messages: Iterable[Mapping[str, Any]]) -> bool:
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and part.get("type") in IMAGE_PARTS:
                    return True
    return False


def _has_tool_turns(messages: Iterable[Mapping[str, Any]]) -> bool:
    return any(m.get("role") in ("tool", "function") or m.get("tool_calls") or m.get("function_call")
               for m in messages)


def needs_of(request: ChatRequest) -> Needs:
    """The request's needs (``NONE`` for a plain text chat, the common case)."""
    body = request.body
    if (not request.tools and request.response_format is None and "n" not in body
            and all(isinstance(m.get("content"), str) and m.get("role") in ("user", "system", "developer")
                    for m in request.messages)):
        return NONE  # the common case: plain text turns, nothing asked for
    n = body.get("n")
    choices = n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1
    images = _has_image(request.messages)
    history = _has_tool_turns(request.messages)
    tools = request.tools or ()
    forced = single = auto = False
    if tools:
        choice = body.get("tool_choice")
        if choice == "required":
            forced, single = True, len(tools) == 1
        elif isinstance(choice, Mapping):
            forced = single = True
        elif choice != "none":
            auto = True
    fmt = request.response_format
    schema = isinstance(fmt, Mapping) and fmt.get("type") == "json_schema"
    if not (images or history or tools or schema or choices > 1):
        return NONE
    found = Needs(images, forced, single, auto, history, schema, choices)
    return NONE if found == NONE else found
