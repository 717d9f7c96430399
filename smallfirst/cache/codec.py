"""A :class:`ChatResponse` to bytes and back (orjson), as the cache keeps it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson

from smallfirst.core.types import ChatResponse, Usage


def dumps(resp: ChatResponse) -> bytes:
    return orjson.dumps({"model": resp.model, "message": resp.message, "finish_reason": resp.finish_reason,
                         "usage": asdict(resp.usage), "id": resp.id, "logprobs": resp.logprobs,
                         "extra_choices": list(resp.extra_choices), "system_fingerprint": resp.system_fingerprint})


def loads(blob: bytes) -> ChatResponse:
    d: dict[str, Any] = orjson.loads(blob)
    return ChatResponse(model=d["model"], message=d["message"], finish_reason=d["finish_reason"],
                        usage=Usage(**d["usage"]), id=d["id"], logprobs=d["logprobs"],
                        extra_choices=tuple(d["extra_choices"]), system_fingerprint=d["system_fingerprint"])
