"""Each configured endpoint's resolved location and why, for ``config validate`` and the ``serve`` banner."""

from __future__ import annotations

from smallfirst.config.location import endpoint_key, resolve_location
from smallfirst.config.schema import Settings


def describe(settings: Settings) -> tuple[list[str], list[str]]:
    """``(lines, warnings)``: each endpoint's resolved location and why, for ``config validate`` and the
    ``serve`` banner (``local/ollama:llama3.2  → local (host 127.0.0.1 is loopback)``)."""
    lines: list[str] = []
    warnings: list[str] = []
    for i, t in enumerate(settings.tiers):
        for j, e in enumerate(t.endpoints):
            r = resolve_location(e, key=endpoint_key(i, j))
            lines.append(f"{t.name}/{e.label}  → {r.location} ({r.why})")
            if r.warning is not None:
                warnings.append(r.warning)
    return lines, warnings
