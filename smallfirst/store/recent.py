"""The served tier of the request log's newest routed requests — the mix governor's shared window.

Routed means asked for ``smallfirst/auto`` and answered (status 200); the tier is the one that served,
after fallbacks and escalations. Newest first by row id (insertion order, across every process that
writes to the log); the caller reverses. ``?`` placeholders; the PostgreSQL store rewrites them to ``%s``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from smallfirst.core.types import AUTO_MODEL

SELECT = ("SELECT tier FROM requests WHERE requested_model = ? AND status = 200 AND tier IS NOT NULL "
          "ORDER BY id DESC LIMIT ?")

Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


def recent_tiers(execute: Execute, limit: int) -> list[str]:
    """The served tiers of the newest ``limit`` routed requests, oldest first."""
    rows = execute(SELECT, (AUTO_MODEL, int(limit)))
    return [str(r[0]) for r in reversed(rows)]
