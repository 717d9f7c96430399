"""Embeddings from an OpenAI-compatible ``/embeddings`` endpoint (OpenAI, Gemini, Ollama ``/v1``, llama.cpp
server, vLLM, LM Studio …), over the endpoint's own HTTP client (:class:`OpenAICompatBackend`).

Vectors are asked for as floats (every server speaks that); an answer in base64 is decoded too. Usage
comes from the upstream's ``usage.prompt_tokens``; a server that reports none is counted at about four
characters a token.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np

from smallfirst.backends.openai_compat import OpenAICompatBackend
from smallfirst.core.errors import UpstreamError
from smallfirst.embeddings.types import Embedded, Vectors


def _row(item: Any) -> Any:
    vec = item.get("embedding") if isinstance(item, dict) else None
    if isinstance(vec, str):
        return np.frombuffer(base64.b64decode(vec), dtype="<f4")
    return vec


def parse_answer(data: Any, count: int, fallback_model: str, texts: Sequence[str], name: str) -> Embedded:
    """An OpenAI embeddings answer → :class:`Embedded` (rows in input order); upstream error on a bad shape."""
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list) or len(items) != count:
        got = len(items) if isinstance(items, list) else "no"
        raise UpstreamError(f"{name}: the embeddings answer has {got} vectors for {count} inputs",
                            hint="check that the endpoint's model is an embedding model")
    ordered = sorted(items, key=lambda it: it.get("index", 0) if isinstance(it, dict) else 0)
    first = ordered[0].get("embedding") if ordered and isinstance(ordered[0], dict) else None
    if isinstance(first, list) and first and isinstance(first[0], list):
        raise UpstreamError(f"{name}: the endpoint returned one vector per token, not one per input: its model "
                            "pools nothing (a chat model, not an embedding model)",
                            hint="serve an embedding model there (llama.cpp: an embedding GGUF, or llama-server "
                                 "--embeddings --pooling mean), or set capabilities.embeddings = false")
    try:
        vectors: Vectors = np.asarray([_row(it) for it in ordered], dtype=np.float32)
    except (TypeError, ValueError):  # binascii.Error (bad base64) is a ValueError
        raise UpstreamError(f"{name}: the embeddings answer's vectors are not arrays of numbers of one length",
                            hint="check that the endpoint's model is an embedding model") from None
    if vectors.ndim != 2 or vectors.shape[1] == 0:
        raise UpstreamError(f"{name}: the embeddings answer has no vectors", hint="check the endpoint's model")
    usage = data.get("usage")
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    if not isinstance(tokens, int) or tokens < 0:
        tokens = sum(max(1, (len(t) + 3) // 4) for t in texts)
    model = data.get("model")
    return Embedded(vectors, tokens, model if isinstance(model, str) and model else fallback_model)


class HttpEmbedder:
    """One configured endpoint whose capabilities include embeddings."""

    def __init__(self, backend: OpenAICompatBackend) -> None:
        self.backend = backend
        self.name = backend.name
        self.model = backend.model

    def __repr__(self) -> str:
        return f"HttpEmbedder({self.name!r})"

    async def embed(self, texts: Sequence[str], dimensions: int | None, user: str | None) -> Embedded:
        payload: dict[str, Any] = {"input": list(texts), "encoding_format": "float"}
        if dimensions is not None:
            payload["dimensions"] = dimensions
        if user is not None:
            payload["user"] = user
        data = await self.backend.embed(payload)
        return parse_answer(data, len(texts), self.model, texts, self.name)

    async def aclose(self) -> None:
        await self.backend.aclose()
