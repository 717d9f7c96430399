"""``/v1/embeddings``: embedders (the built-in local all-MiniLM-L6-v2, OpenAI-compatible endpoints) and the
route that picks one per request (:mod:`.service`). Heavy imports (torch, sentence-transformers) happen only
when the built-in model is first used."""

from smallfirst.embeddings.types import Embedded, Embedder, EmbeddingRequest

__all__ = ["Embedded", "Embedder", "EmbeddingRequest"]
