"""RequestRecord ↔ database row, shared by every store implementation."""

from __future__ import annotations

from typing import Any

import orjson

from smallfirst.core.types import Attempt, RequestRecord, Usage

COLUMNS: tuple[str, ...] = (
    "request_id", "ts", "requested_model", "tier", "model", "endpoint", "status", "error_code", "reason",
    "escalations", "attempts", "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms", "ttft_ms",
    "stream", "task_type", "sensitive", "prompt_text", "response_text", "api_key_id",
)


_EMPTY_LIST = "[]"  # orjson.dumps([]) (most rows: no escalation, nothing sensitive)


def _attempt_json(a: Attempt) -> dict[str, Any]:
    """One attempt in the ``attempts`` column. ``redacted`` (only on attempts sent masked) maps entity
    types to the number of distinct values masked — types and counts, never the values."""
    d: dict[str, Any] = {"tier": a.tier, "model": a.model, "endpoint": a.endpoint, "outcome": a.outcome,
                         "latency_ms": round(a.latency_ms, 3), "cost_usd": a.cost_usd,
                         "prompt_tokens": a.usage.prompt_tokens, "completion_tokens": a.usage.completion_tokens,
                         "location": a.location}
    if a.redacted is not None:
        d["redacted"] = dict(a.redacted)
    if a.local_cost_usd:
        d["local_cost_usd"] = a.local_cost_usd  # own hardware + energy (smallfirst.core.local_cost)
    return d


def _redacted_of(value: Any) -> tuple[tuple[str, int], ...] | None:
    return tuple((str(e), int(n)) for e, n in value.items()) if isinstance(value, dict) else None


def _sensitive_json(r: RequestRecord) -> str:
    """The ``sensitive`` column: a JSON list of data classes, or — when entity counts are known —
    ``{"classes": [...], "entities": {"email": 2}}`` (types and counts only, never text). Rows logged
    before counts were kept hold the list, so both forms are read back."""
    if not r.sensitive_entities:
        return orjson.dumps(r.sensitive).decode() if r.sensitive else _EMPTY_LIST
    return orjson.dumps({"classes": list(r.sensitive), "entities": dict(r.sensitive_entities)}).decode()


def _sensitive_of(text: str) -> tuple[tuple[str, ...], tuple[tuple[str, int], ...]]:
    value = orjson.loads(text)
    if isinstance(value, dict):
        return tuple(value.get("classes", ())), tuple((str(e), int(n)) for e, n in value.get("entities", {}).items())
    return tuple(value), ()


def to_row(r: RequestRecord) -> tuple[Any, ...]:
    return (
        r.request_id, r.ts, r.requested_model, r.tier, r.model, r.endpoint, r.status, r.error_code, r.reason,
        orjson.dumps(r.escalations).decode() if r.escalations else _EMPTY_LIST,
        orjson.dumps([_attempt_json(a) for a in r.attempts]).decode(),
        r.prompt_tokens, r.completion_tokens, r.cost_usd, r.latency_ms, r.ttft_ms, int(r.stream), r.task_type,
        _sensitive_json(r), r.prompt_text, r.response_text, r.api_key_id,
    )


def from_row(row: tuple[Any, ...]) -> RequestRecord:
    d = dict(zip(COLUMNS, row, strict=True))
    attempts = tuple(
        Attempt(tier=a["tier"], model=a["model"], endpoint=a["endpoint"], outcome=a["outcome"],
                latency_ms=a["latency_ms"], cost_usd=a["cost_usd"],
                usage=Usage(a["prompt_tokens"], a["completion_tokens"]), location=a.get("location", ""),
                redacted=_redacted_of(a.get("redacted")), local_cost_usd=a.get("local_cost_usd", 0.0))
        for a in orjson.loads(d["attempts"])
    )
    sensitive, entities = _sensitive_of(d["sensitive"])
    return RequestRecord(
        request_id=d["request_id"], ts=d["ts"], requested_model=d["requested_model"], tier=d["tier"],
        model=d["model"], endpoint=d["endpoint"], status=d["status"], error_code=d["error_code"],
        reason=d["reason"], escalations=tuple(orjson.loads(d["escalations"])), attempts=attempts,
        prompt_tokens=d["prompt_tokens"], completion_tokens=d["completion_tokens"], cost_usd=d["cost_usd"],
        latency_ms=d["latency_ms"], ttft_ms=d["ttft_ms"], stream=bool(d["stream"]), task_type=d["task_type"],
        sensitive=sensitive, prompt_text=d["prompt_text"], response_text=d["response_text"],
        api_key_id=d["api_key_id"], sensitive_entities=entities,
        local_cost_usd=sum(a.local_cost_usd for a in attempts),  # rows logged before local costs: 0
    )
