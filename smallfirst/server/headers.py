"""Response headers shared by every wire format the gateway speaks (OpenAI, Anthropic)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from smallfirst.core.errors import SmallfirstError
from smallfirst.core.types import ChatRequest, Decision


def _ascii(s: str) -> bytes:
    return s.replace("→", "->").encode("ascii", "replace")


def decision_headers(d: Decision | None, request_id: str, *, with_cost: bool = True, feedback: bool = True
                     ) -> list[tuple[bytes, bytes]]:
    """``x-request-id``, ``x-smallfirst-feedback`` (where to POST a verdict on this answer) and the
    ``x-smallfirst-*`` decision headers (tier, model, reason, escalations, cost)."""
    h = [(b"x-request-id", request_id.encode())]
    if feedback:  # an answer's link: POST a verdict there (not on embeddings)
        h.append((b"x-smallfirst-feedback", f"/v1/feedback?request_id={request_id}".encode()))
    if d is not None:
        h += [(b"x-smallfirst-tier", _ascii(d.tier)), (b"x-smallfirst-model", _ascii(d.model)),
              (b"x-smallfirst-reason", _ascii(d.reason)),
              (b"x-smallfirst-escalations", _ascii(",".join(d.escalations)))]
        if with_cost:
            h.append((b"x-smallfirst-cost-usd", f"{d.cost_usd:.8f}".encode()))
    return h


def cache_headers(status: str | None) -> list[tuple[bytes, bytes]]:
    """``x-smallfirst-cache: hit | miss | bypass`` when the response cache is on (``[cache] enabled``)."""
    return [(b"x-smallfirst-cache", status.encode())] if status else []


def with_cache_control(request: ChatRequest, raw: Iterable[tuple[bytes, bytes]]) -> ChatRequest:
    """``request`` with the client's ``Cache-Control`` header (the wire parsers keep only ``x-smallfirst-*``;
    the response cache reads no-cache / no-store)."""
    for k, v in raw:
        if k == b"cache-control":
            return replace(request, headers={**request.headers, "cache-control": v.decode("latin-1")})
    return request


def error_headers(err: SmallfirstError, request_id: str) -> list[tuple[bytes, bytes]]:
    """``x-request-id``, ``retry-after`` (whole seconds, at least 1) when the error knows one, and
    ``x-should-retry: false`` when an immediate client retry cannot help: the official openai and anthropic
    SDKs retry 408, 409, 429 and 5xx on their own (twice by default) unless the response says so."""
    h = [(b"x-request-id", request_id.encode())] if request_id else []
    retry = getattr(err, "retry_after_s", None)
    if retry is not None:
        h.append((b"retry-after", str(max(1, round(retry))).encode()))
    if not err.should_retry:
        h.append((b"x-should-retry", b"false"))
    reason = getattr(err, "reason", None)  # a policy's refusal that names why (e.g. the latency budget)
    if isinstance(reason, str) and reason:
        h.append((b"x-smallfirst-reason", _ascii(reason)))
    return h
