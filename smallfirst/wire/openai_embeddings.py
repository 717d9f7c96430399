"""``POST /v1/embeddings``: the OpenAI Embeddings wire format (request validation and the answer's shape).

Accepted: ``input`` as a string or a list of 1–2048 non-empty strings; ``model``; ``encoding_format``
``float`` (default) or ``base64`` (little-endian float32, as OpenAI sends it); ``dimensions`` (a positive
integer; the embedder refuses it when its model cannot shorten vectors); ``user``. Inputs as token ids are
refused with a 400 (the residency check reads text).
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import orjson

from smallfirst.core.errors import BadRequestError
from smallfirst.core.types import ChatRequest
from smallfirst.embeddings.types import Embedded, EmbeddingRequest

PATH = "/v1/embeddings"
MAX_INPUTS = 2048
_KNOWN = frozenset({"model", "input", "encoding_format", "dimensions", "user"})


def _bad(msg: str, param: str, hint: str = "") -> BadRequestError:
    return BadRequestError(msg, param=param, hint=hint)


def _inputs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list) and value:
        items = value
    elif isinstance(value, list):
        raise _bad("'input' must not be an empty array", "input", "send a string or an array of strings")
    else:
        raise _bad("'input' is required and must be a string or an array of strings", "input",
                   'e.g. "input": "some text" or "input": ["first", "second"]')
    if len(items) > MAX_INPUTS:
        raise _bad(f"'input' has {len(items)} items; at most {MAX_INPUTS} per request", "input",
                   "split the batch into several requests")
    for i, item in enumerate(items):
        where = "input" if isinstance(value, str) else f"input[{i}]"
        if isinstance(item, int) or (isinstance(item, list) and all(isinstance(t, int) for t in item)):
            raise _bad("'input' as token ids is not supported by this gateway", where,
                       "send the text itself: the gateway checks it for sensitive data before it picks an embedder")
        if not isinstance(item, str):
            raise _bad(f"'{where}' must be a string", where)
        if not item:
            raise _bad(f"'{where}' must not be an empty string", where, "drop empty inputs before sending")
    return tuple(items)


def parse(body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None,
          api_key_id: str | None = None) -> EmbeddingRequest:
    """Validate an embeddings body; ``headers`` are the raw ASGI headers (only ``x-smallfirst-*`` are kept)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("'model' is required and must be a non-empty string", "model",
                   "use 'smallfirst/auto' for the embeddings route (any embedding model name maps to it)")
    inputs = _inputs(body.get("input"))
    fmt = body.get("encoding_format", "float")
    if fmt is None:
        fmt = "float"
    if fmt not in ("float", "base64"):
        raise _bad(f"'encoding_format' must be 'float' or 'base64', got {fmt!r}", "encoding_format")
    dims = body.get("dimensions")
    if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or dims < 1):
        raise _bad("'dimensions' must be a positive integer", "dimensions")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise _bad("'user' must be a string", "user")
    unknown = sorted(k for k in body if k not in _KNOWN)
    if unknown:
        raise _bad(f"unknown parameter {unknown[0]!r} for embeddings", unknown[0],
                   f"the embeddings API takes {', '.join(sorted(_KNOWN))}")
    kept = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers or () if k.startswith(b"x-smallfirst-")}
    return EmbeddingRequest(model, inputs, "base64" if fmt == "base64" else "float", dims, user, kept, api_key_id)


def as_chat(req: EmbeddingRequest) -> ChatRequest:
    """The inputs as a chat request: what the sensitive-data detector, the residency policy and the key's
    limits read (one user message per input; no output tokens to reserve)."""
    messages = [{"role": "user", "content": t} for t in req.inputs]
    return ChatRequest(model=req.model, messages=messages, body={"model": req.model, "messages": messages},
                       max_tokens=1, headers=req.headers, api_key_id=req.api_key_id)


def render(out: Embedded, encoding: str) -> bytes:
    """The OpenAI answer: ``{"object": "list", "data": [{"object": "embedding", "index", "embedding"}], …}``."""
    vectors = np.ascontiguousarray(out.vectors, dtype="<f4")
    if encoding == "base64":
        rows: list[Any] = [base64.b64encode(v.tobytes()).decode("ascii") for v in vectors]
    else:
        rows = list(vectors)
    data = [{"object": "embedding", "index": i, "embedding": row} for i, row in enumerate(rows)]
    usage = {"prompt_tokens": out.prompt_tokens, "total_tokens": out.prompt_tokens}
    return orjson.dumps({"object": "list", "data": data, "model": out.model, "usage": usage},
                        option=orjson.OPT_SERIALIZE_NUMPY)
