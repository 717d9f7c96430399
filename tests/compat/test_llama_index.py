"""LlamaIndex's OpenAI-compatible embeddings (``llama-index-embeddings-openai-like``) against the gateway.

Its chat sibling, ``llama-index-llms-openai-like``, cannot be installed beside openai 3.x (see
docs/compatibility.md), so this module covers embeddings only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from llama_index.embeddings.openai_like import OpenAILikeEmbedding  # type: ignore[import-untyped]

from tests.compat.common import SCENARIOS
from tests.compat.conftest import Target

LIBRARY = "llama-index-embeddings-openai-like"
NOT_APPLICABLE = {s: "an embeddings integration: LlamaIndex's chat client (llama-index-llms-openai-like) "
                     "is left out" for s in SCENARIOS if s != "embeddings"}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


def test_embeddings(target: Target, http: httpx.Client) -> None:
    emb = OpenAILikeEmbedding(model_name="text-embedding-3-small", api_base=target.v1, api_key="unused",
                              max_retries=0, http_client=http)
    a, b = emb.get_text_embedding_batch(["a red apple", "a blue car"])
    q = emb.get_query_embedding("a red apple")
    assert len(a) == len(b) == len(q) > 0 and a != b
    assert sum(x * y for x, y in zip(a, q, strict=True)) > 0.99  # the same text, the same vector

    async def go() -> list[float]:
        async with httpx.AsyncClient() as ac:
            aemb = OpenAILikeEmbedding(model_name="text-embedding-3-small", api_base=target.v1, api_key="unused",
                                       max_retries=0, http_client=http, async_http_client=ac)
            vector: list[float] = await aemb.aget_text_embedding("a blue car")
            return vector

    assert asyncio.run(go()) == pytest.approx(b, abs=1e-5)  # batched and single runs differ in float32 rounding
