"""Optional redaction for non-local tiers: mask detected entities, then restore them in the answer.

Each distinct value gets one placeholder such as ``[EMAIL_1]`` or ``[SECRET_OPENAI_KEY_1]`` (the
same value always maps to the same placeholder within one request, so the model can still refer to
it). ``restore`` puts the originals back; :class:`StreamRestorer` does the same across streamed
deltas, holding back a placeholder split over two chunks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from smallfirst.core.findings import Span

PLACEHOLDER = re.compile(r"\[([A-Z][A-Z0-9_]*_\d+)\]")
_MAX_PLACEHOLDER = 48


class RedactionMap:
    """Placeholder → original value. Never shows the originals in ``repr``/``str``."""

    __slots__ = ("_by_placeholder", "_by_value", "_counters")

    def __init__(self) -> None:
        self._by_placeholder: dict[str, str] = {}
        self._by_value: dict[tuple[str, str], str] = {}
        self._counters: dict[str, int] = {}

    def placeholder(self, entity: str, value: str) -> str:
        key = (entity, value)
        found = self._by_value.get(key)
        if found is not None:
            return found
        label = re.sub(r"[^A-Z0-9]+", "_", entity.upper()).strip("_") or "ENTITY"
        n = self._counters.get(label, 0) + 1
        self._counters[label] = n
        ph = f"[{label}_{n}]"
        self._by_value[key] = ph
        self._by_placeholder[ph] = value
        return ph

    def original(self, placeholder: str) -> str | None:
        return self._by_placeholder.get(placeholder)

    def placeholders(self) -> tuple[str, ...]:
        return tuple(self._by_placeholder)

    def entities(self) -> dict[str, int]:
        """Entity type → number of distinct values masked (types and counts only, never the values)."""
        out: dict[str, int] = {}
        for entity, _ in self._by_value:
            out[entity] = out.get(entity, 0) + 1
        return out

    def __len__(self) -> int:
        return len(self._by_placeholder)

    def __bool__(self) -> bool:
        return bool(self._by_placeholder)

    def __repr__(self) -> str:
        return f"RedactionMap({len(self)} placeholders: {', '.join(self._by_placeholder) or '-'})"

    __str__ = __repr__


def mask(text: str, spans: Iterable[Span], mapping: RedactionMap) -> str:
    """``text`` with each (non-overlapping) span replaced by its placeholder."""
    out: list[str] = []
    pos = 0
    for s in sorted(spans, key=lambda s: s.start):
        if s.start < pos:
            continue
        out.append(text[pos:s.start])
        out.append(mapping.placeholder(s.entity, text[s.start:s.end]))
        pos = s.end
    if pos == 0:
        return text
    out.append(text[pos:])
    return "".join(out)


def restore(answer: str, mapping: RedactionMap) -> str:
    """``answer`` with every known placeholder replaced by its original value."""
    if not mapping or "[" not in answer:
        return answer

    def put_back(m: re.Match[str]) -> str:
        return mapping.original(m.group(0)) or m.group(0)

    return PLACEHOLDER.sub(put_back, answer)


class StreamRestorer:
    """Restores placeholders across streamed text deltas.

    ``feed`` returns the text that is safe to emit now; a trailing ``[`` that may open a placeholder is
    held back until the next delta (or :meth:`flush`) shows whether it closes.
    """

    __slots__ = ("_held", "_mapping")

    def __init__(self, mapping: RedactionMap) -> None:
        self._mapping = mapping
        self._held = ""

    def feed(self, delta: str) -> str:
        text = self._held + delta
        self._held = ""
        cut = text.rfind("[")
        if cut >= 0 and "]" not in text[cut:] and len(text) - cut <= _MAX_PLACEHOLDER:
            self._held = text[cut:]
            text = text[:cut]
        return restore(text, self._mapping)

    def flush(self) -> str:
        text, self._held = self._held, ""
        return restore(text, self._mapping)

    def restore_all(self, deltas: Iterable[str]) -> Iterator[str]:
        for d in deltas:
            out = self.feed(d)
            if out:
                yield out
        tail = self.flush()
        if tail:
            yield tail
