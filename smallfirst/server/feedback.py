"""``POST /v1/feedback``: a client's verdict on one logged answer, kept in the request log's feedback table.

Body (JSON)::

    {"request_id": "…",            # the x-request-id the answer carried (or ?request_id= in the URL)
     "score": 0.8,                  # in [0, 1]        } at least one of score, label, correction
     "label": "good" | "bad",       #                  }
     "correction": "…",             # the answer that should have been given
     "comment": "…"}                # optional

The key check is the chat route's (``Access.authenticate``); a key may give feedback only on its own
requests, and an unknown request id — or another key's — is a 404 in OpenAI's error shape. Text
(correction, comment) follows the log's rule: kept only with ``log.store_prompts`` and never for a
sensitive request (the response's ``text_kept`` says which). A correction alone counts as ``bad``.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

import orjson

from smallfirst.access.gate import Access
from smallfirst.core.errors import BadRequestError, NotFoundError, SmallfirstError
from smallfirst.core.protocols import Store
from smallfirst.core.types import RequestRecord
from smallfirst.server.asgi import Receive, Scope, Send, read_body, send_json, send_openai_error
from smallfirst.store.feedback import Feedback
from smallfirst.wire.openai_parse import parse_json

PATH = "/v1/feedback"
LABELS = ("good", "bad")
_FIELDS = {"request_id", "score", "label", "correction", "comment"}


def _bad(message: str, param: str, hint: str) -> BadRequestError:
    return BadRequestError(message, param=param, hint=hint)


def _text(body: dict[str, Any], name: str) -> str | None:
    v = body.get(name)
    if v is None:
        return None
    if not isinstance(v, str) or not v.strip():
        raise _bad(f"{name} must be a non-empty string", name, f"send {name} as text, or leave it out")
    return v


def parse_feedback(body: Any, query_id: str | None) -> dict[str, Any]:
    """The validated fields (request_id, score, label, correction, comment)."""
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object", "body", 'e.g. {"request_id": "…", "score": 1}')
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise _bad(f"unknown field {unknown[0]!r}", unknown[0], f"fields: {', '.join(sorted(_FIELDS))}")
    rid = body.get("request_id", query_id)
    if not isinstance(rid, str) or not rid:
        raise _bad("request_id is required", "request_id",
                   "send the x-request-id header of the answer (also in its x-smallfirst-feedback link)")
    score = body.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)
                              or not math.isfinite(score) or not 0 <= score <= 1):
        raise _bad(f"score must be a number in [0, 1], got {score!r}", "score", "e.g. 1 (right), 0 (wrong), 0.5")
    label = body.get("label")
    if label is not None and label not in LABELS:
        raise _bad(f"label must be 'good' or 'bad', got {label!r}", "label", "or send a score in [0, 1]")
    correction, comment = _text(body, "correction"), _text(body, "comment")
    if score is None and label is None and correction is None:
        raise _bad("feedback needs a score, a label or a correction", "score",
                   'e.g. {"request_id": "…", "label": "bad", "correction": "the right answer"}')
    if score is None and label is None:
        label = "bad"  # a correction: the answer given was not the one that should have been
    return {"request_id": rid, "score": None if score is None else float(score), "label": label,
            "correction": correction, "comment": comment}


class FeedbackHandler:
    """The ASGI handler of ``POST /v1/feedback``."""

    def __init__(self, store: Store, access: Access, *, store_prompts: bool, max_body: int) -> None:
        self.store = store
        self.access = access
        self.store_prompts = store_prompts
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            key = self.access.authenticate(scope["headers"])
            body = parse_json(await read_body(scope, receive, self.max_body))
            query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("request_id")
            fields = parse_feedback(body, query[0] if query else None)
            out = await asyncio.to_thread(self._keep, fields, key.id if key is not None else None)
        except SmallfirstError as err:
            await send_openai_error(send, err, "")
            return
        await send_json(send, 200, orjson.dumps(out), [])

    def _find(self, request_id: str, key_id: str | None) -> RequestRecord:
        find = getattr(self.store, "find", None)
        if find is None or not hasattr(self.store, "add_feedback"):
            raise BadRequestError(f"this gateway's request log ({type(self.store).__name__}) keeps no feedback",
                                  param="request_id", hint="use the built-in sqlite or postgres log store")
        row: RequestRecord | None = find(request_id)
        if row is None or (key_id is not None and row.api_key_id != key_id):  # another key's: not found either
            raise NotFoundError(f"no request {request_id!r} in the request log", param="request_id",
                                hint="send the x-request-id of an answer this key received")
        return row

    def _keep(self, f: dict[str, Any], key_id: str | None) -> dict[str, Any]:
        row = self._find(f["request_id"], key_id)
        keep = self.store_prompts and not row.sensitive
        given = f["correction"] is not None or f["comment"] is not None
        fb = Feedback(feedback_id=f"fb_{secrets.token_hex(12)}", request_id=f["request_id"], ts=time.time(),
                      api_key_id=key_id, tier=row.tier, score=f["score"], label=f["label"],
                      correction=f["correction"] if keep else None, comment=f["comment"] if keep else None,
                      text_dropped=given and not keep)
        self.store.add_feedback(fb)  # type: ignore[attr-defined]  # checked in _find
        out: dict[str, Any] = {"object": "feedback", "id": fb.feedback_id, "request_id": fb.request_id,
                               "tier": fb.tier, "score": fb.effective_score(), "label": fb.label}
        if given:
            out["text_kept"] = keep
            if not keep:
                out["text_note"] = ("not kept: the request was sensitive" if row.sensitive else
                                    "not kept: log.store_prompts is off")
        return out
