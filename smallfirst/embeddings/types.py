"""The values of an embeddings request and the protocol every embedder implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]  # shape (inputs, dimensions)
Encoding = Literal["float", "base64"]


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """A validated ``POST /v1/embeddings`` body."""

    model: str
    inputs: tuple[str, ...]
    encoding_format: Encoding = "float"
    dimensions: int | None = None
    user: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case x-smallfirst-* request headers
    api_key_id: str | None = None  # the caller's gateway key id, set by the server (never from the body)

    def text(self) -> str:
        return "\n".join(self.inputs)


@dataclass(frozen=True, slots=True)
class Embedded:
    """One embedder's answer: one row per input, in input order."""

    vectors: Vectors
    prompt_tokens: int
    model: str


class Embedder(Protocol):
    """One embedding model: the built-in local one or an OpenAI-compatible ``/embeddings`` endpoint."""

    name: str  # label in logs, e.g. "builtin:all-minilm-l6-v2" or an endpoint's label
    model: str  # the model id the vectors come from

    async def embed(self, texts: Sequence[str], dimensions: int | None, user: str | None) -> Embedded:
        """Raise :mod:`smallfirst.core.errors` errors only (upstream errors for a failed call)."""
        ...

    async def aclose(self) -> None: ...


def as_vectors(rows: Sequence[Any]) -> Vectors:
    """Rows of floats → a float32 matrix."""
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
