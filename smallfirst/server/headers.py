"""Response headers shared by every wire format the gateway speaks (OpenAI, Anthropic)."""

from __future__ import annotations

from smallfirst.core.types import Decision


def _ascii(s: str) -> bytes:
    return s.replace("→", "->").encode("ascii", "replace")


def decision_headers(d: Decision | None, request_id: str, *, with_cost: bool = True) -> list[tuple[bytes, bytes]]:
    """``x-request-id`` and the ``x-smallfirst-*`` decision headers (tier, model, reason, escalations, cost)."""
    h = [(b"x-request-id", request_id.encode())]
    if d is not None:
        h += [(b"x-smallfirst-tier", _ascii(d.tier)), (b"x-smallfirst-model", _ascii(d.model)),
              (b"x-smallfirst-reason", _ascii(d.reason)),
              (b"x-smallfirst-escalations", _ascii(",".join(d.escalations)))]
        if with_cost:
            h.append((b"x-smallfirst-cost-usd", f"{d.cost_usd:.8f}".encode()))
    return h
