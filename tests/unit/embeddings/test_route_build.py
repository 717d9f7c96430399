"""Which embedders the route holds, in which order, built from config (nothing is loaded or called)."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.config.loader import parse
from smallfirst.core.errors import ConfigError
from smallfirst.embeddings.service import EmbeddingService
from smallfirst.pipeline import build_pipeline
from smallfirst.pipeline.embeddings import build_embeddings

BUILTIN = "builtin:all-minilm-l6-v2"
CHAT = {"backend": "fake", "model": "echo"}
EMBED = {"backend": "openai_compat", "model": "nomic-embed-text", "base_url": "http://127.0.0.1:9/v1",
         "capabilities": {"embeddings": True}}
YES = {"capabilities": {"embeddings": True}}
UPPER = {"backend": "openai", "model": "gpt-4.1-mini", "base_url": "http://127.0.0.1:9/v1", **YES}
HOSTED = {"backend": "openai", "model": "text-embedding-3-small", **YES}  # api.openai.com: remote


def route(tiers: list[dict[str, Any]]) -> tuple[EmbeddingService, list[tuple[str, str, str]]]:
    svc = build_embeddings(build_pipeline(parse({"tiers": tiers, "log": {"path": ":memory:"}})))
    return svc, [(c.tier, c.embedder.name, c.location) for c in svc.route]


def test_the_builtin_stands_in_for_a_local_tier_that_cannot_embed() -> None:
    svc, r = route([{"name": "local", "endpoints": [CHAT]}, {"name": "upper", "endpoints": [UPPER]}])
    assert r == [("local", BUILTIN, "local"), ("upper", "openai:gpt-4.1-mini", "local")]
    assert svc.candidates("text-embedding-3-small")[0][0].embedder.name == BUILTIN  # local first
    assert svc.candidates("gpt-4.1-mini")[0][0].tier == "upper"  # named: that endpoint


def test_a_local_embedding_endpoint_replaces_the_builtin() -> None:
    _, r = route([{"name": "local", "endpoints": [CHAT, EMBED]}, {"name": "upper", "endpoints": [UPPER]}])
    assert r == [("local", "openai_compat:nomic-embed-text", "local"), ("upper", "openai:gpt-4.1-mini", "local")]


def test_with_no_tier_on_this_host_the_builtin_goes_first() -> None:
    _, r = route([{"name": "frontier", "endpoints": [HOSTED]}])
    assert r == [("local", BUILTIN, "local"), ("frontier", "openai:text-embedding-3-small", "remote")]


def test_chat_only_names_are_known_and_a_backend_that_cannot_embed_is_a_config_error() -> None:
    chat_api = {"backend": "openai", "model": "gpt-4.1-mini"}  # no preset declares embeddings: config says so
    svc, r = route([{"name": "local", "endpoints": [CHAT]}, {"name": "frontier", "endpoints": [chat_api]}])
    assert r == [("local", BUILTIN, "local")] and svc.not_embedding["echo"] == "fake:echo"
    assert svc.not_embedding["gpt-4.1-mini"] == "openai:gpt-4.1-mini"
    with pytest.raises(ConfigError) as info:
        route([{"name": "local", "endpoints": [{**CHAT, "capabilities": {"embeddings": True}}]}])
    assert "fake" in info.value.message and "capabilities.embeddings = false" in info.value.hint
