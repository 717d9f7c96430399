"""Message contents in the internal (OpenAI chat) shape, and how backends flatten them.

The wire parsers (:mod:`smallfirst.wire`) hand the engine one shape, whatever the client sent:

* ``content`` is a string; ``None`` only on an assistant turn that calls tools; or a list of parts:
  ``{"type": "text", "text"}`` (any role), ``{"type": "image_url", "image_url": {"url", "detail"?}}``
  (user turns; ``url`` is ``https://…`` or a base64 ``data:`` URL) and ``{"type": "refusal", "refusal"}``
  (assistant turns);
* Anthropic's ``cache_control`` rides along on the part (or tool, tool call) it marked, as OpenRouter and
  LiteLLM carry it in the OpenAI shape; only the Anthropic backend (and OpenRouter) send it on.

Backends render what their protocol accepts with the helpers here: :func:`flatten` for a model that
reads a plain string, :func:`data_url` for one that wants raw base64, :func:`without_cache_control` for
an upstream that would reject the unknown key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CACHE_CONTROL = "cache_control"


def part_text(part: Any) -> str | None:
    """The text of a ``text`` (or ``refusal``) part; None for any other part."""
    if not isinstance(part, Mapping):
        return None
    kind = part.get("type")
    if kind == "text":
        return str(part.get("text") or "")
    if kind == "refusal":
        return str(part.get("refusal") or "")
    return None


def flatten(content: Any, sep: str = "\n") -> str:
    """``content`` as one string: itself, ``""`` for None, or its text parts joined by ``sep``.

    Non-text parts are skipped: call :func:`first_image` first where an image must not be lost."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return sep.join(t for t in (part_text(p) for p in content) if t is not None)
    return ""


def is_image(part: Any) -> bool:
    return isinstance(part, Mapping) and part.get("type") == "image_url"


def image_url(part: Mapping[str, Any]) -> str:
    """The URL of an ``image_url`` part (its ``image_url`` is an object with ``url``, or the URL itself)."""
    raw = part.get("image_url")
    return str(raw.get("url") or "") if isinstance(raw, Mapping) else str(raw or "")


def first_image(messages: Iterable[Mapping[str, Any]]) -> str | None:
    """Where the first image part is (``messages[i].content[j]``), or None when there is none."""
    for i, m in enumerate(messages):
        content = m.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                if is_image(part):
                    return f"messages[{i}].content[{j}]"
    return None


@dataclass(frozen=True, slots=True)
class DataUrl:
    """A ``data:<media type>;base64,<data>`` URL, taken apart."""

    media_type: str
    data: str  # base64, as sent


def data_url(url: str) -> DataUrl | None:
    """The parts of a base64 ``data:`` URL; None for anything else (a link, or a data URL not in base64)."""
    if not url.startswith("data:") or "," not in url:
        return None
    header, data = url[5:].split(",", 1)
    params = header.split(";")
    if params[-1].strip().lower() != "base64":
        return None
    return DataUrl(params[0].strip().lower() or "text/plain", data)


def has_cache_control(content: Any) -> bool:
    return isinstance(content, list) and any(isinstance(p, Mapping) and CACHE_CONTROL in p for p in content)


def last_cache_control(content: Any) -> Any:
    """The ``cache_control`` of the last part that carries one (None: no part does)."""
    found = None
    if isinstance(content, list):
        for p in content:
            if isinstance(p, Mapping) and CACHE_CONTROL in p:
                found = p[CACHE_CONTROL]
    return found


def _strip(items: Any) -> tuple[Any, bool]:
    if not isinstance(items, list) or not any(isinstance(x, Mapping) and CACHE_CONTROL in x for x in items):
        return items, False
    return [{k: v for k, v in x.items() if k != CACHE_CONTROL} if isinstance(x, Mapping) else x
            for x in items], True


def without_cache_control(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with every ``cache_control`` (on parts and tool calls) removed; messages without one are
    the same objects, and the list itself is returned unchanged when nothing carries one."""
    out: list[dict[str, Any]] = []
    changed = False
    for m in messages:
        content, c1 = _strip(m.get("content"))
        calls, c2 = _strip(m.get("tool_calls"))
        if c1 or c2 or CACHE_CONTROL in m:
            m = {k: v for k, v in m.items() if k != CACHE_CONTROL}
            if c1:
                m["content"] = content
            if c2:
                m["tool_calls"] = calls
            changed = True
        out.append(m)
    return out if changed else messages


def tools_without_cache_control(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stripped, changed = _strip(tools)
    return stripped if changed else tools
