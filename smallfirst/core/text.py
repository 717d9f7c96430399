"""Text of OpenAI-shaped message contents (string, or a list of typed parts)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def content_text(content: Any) -> str:
    """The text of one message's ``content``: the string itself, or its ``text`` parts joined by newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def user_text(messages: Iterable[Mapping[str, Any]]) -> str:
    """What routers and outcome files read: the user messages' text, joined by newlines."""
    return "\n".join(content_text(m.get("content")) for m in messages if m.get("role") == "user")
