"""Match the model names clients and vendors use to catalog price ids.

``openai/gpt-4o-mini``, ``models/gemini-2.5-flash``, ``gpt-4o-2024-08-06``,
``claude-haiku-4-5-20251001`` and ``Claude-3.5-Haiku`` all find their catalog entry:
vendor/route prefixes and dated snapshot suffixes are dropped, and names are compared by a
canonical key (words in order, version numbers in order) so ``claude-4.5-haiku`` and
``claude-haiku-4-5`` are the same model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_DATE_SUFFIXES = (
    re.compile(r"-\d{4}-\d{2}-\d{2}$"),  # gpt-4o-2024-08-06
    re.compile(r"-\d{8}$"),  # claude-3-5-haiku-20241022
    re.compile(r"-\d{4}$"),  # mistral-large-2411, ministral-8b-2410
    re.compile(r"-\d{3}$"),  # gemini-2.0-flash-001
)
_NUMBER = re.compile(r"^\d+$")


def strip_route(name: str) -> str:
    """Lower-case, trim, and drop route/vendor prefixes (``openrouter/openai/``, ``models/``)."""
    return name.strip().lower().rsplit("/", 1)[-1]


def canonical_key(name: str) -> str:
    """Words in order, then version numbers in order: ``claude-haiku-4-5`` → ``claude-haiku|4.5``."""
    tokens = [t for t in re.split(r"[-._\s]+", name) if t]
    words = [t for t in tokens if not _NUMBER.match(t)]
    numbers = [str(int(t)) for t in tokens if _NUMBER.match(t)]
    return "-".join(words) + "|" + ".".join(numbers)


def candidates(name: str) -> Iterator[str]:
    """Names to try, most specific first: as given, without a date suffix, ±``-latest``."""
    base = strip_route(name)
    if not base:
        return
    seen: set[str] = set()
    queue = [base]
    for pattern in _DATE_SUFFIXES:
        stripped = pattern.sub("", base)
        if stripped != base:
            queue.append(stripped)
    more: list[str] = []
    for q in queue:
        if q.endswith("-latest"):
            more.append(q.removesuffix("-latest"))
        else:
            more.append(q + "-latest")
    for q in queue + more:
        if q and q not in seen:
            seen.add(q)
            yield q
