"""The embeddings route, built from the finished :class:`~smallfirst.pipeline.Pipeline`.

Every configured endpoint whose capabilities include ``embeddings`` (declared by its preset — ``openai``,
``gemini`` — or set in ``[tiers.endpoints.capabilities]``) becomes an HTTP embedder over its own client, in
tier chain order, with the endpoint's tier, location and price. The built-in local model (all-MiniLM-L6-v2)
stands in for the first tier on this host when that tier has no embedding endpoint (first of all when no
tier is on this host): local first, as for chat. It can always be named. Nothing is loaded or called here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smallfirst.backends.openai_compat import OpenAICompatBackend
from smallfirst.backends.presets import PRESETS, preset
from smallfirst.core.errors import ConfigError
from smallfirst.core.types import FREE
from smallfirst.embeddings.http import HttpEmbedder
from smallfirst.embeddings.minilm import MiniLMEmbedder
from smallfirst.embeddings.service import LOCAL, Candidate, EmbeddingService

if TYPE_CHECKING:
    from smallfirst.pipeline import Pipeline


def build_embeddings(pipeline: Pipeline) -> EmbeddingService:
    from smallfirst.policy.residency import ResidencyPolicy, endpoint_location

    local_tier = next((t.name for t in pipeline.tiers if t.is_local), None)
    builtin = Candidate(local_tier or LOCAL, MiniLMEmbedder(), LOCAL, FREE)
    route: list[Candidate] = [] if local_tier is not None else [builtin]
    chat_only: dict[str, str] = {}
    for tier_cfg, tier in zip(pipeline.settings.tiers, pipeline.tiers, strict=True):
        mine: list[Candidate] = []
        for cfg, ep in zip(tier_cfg.endpoints, tier.endpoints, strict=True):
            if not ep.capabilities.embeddings:
                for key in (ep.backend.model, ep.backend.name):
                    if key:
                        chat_only.setdefault(key, ep.backend.name)
                continue
            if cfg.backend not in PRESETS:
                raise ConfigError(f"endpoint {cfg.label!r}: backend {cfg.backend!r} cannot serve /v1/embeddings",
                                  hint="embeddings come from OpenAI-compatible presets (openai, gemini, ollama, "
                                       "llamacpp, vllm, lmstudio, openrouter, openai_compat); set "
                                       "capabilities.embeddings = false here")
            embedder = HttpEmbedder(OpenAICompatBackend(cfg, preset(cfg.backend)))
            mine.append(Candidate(tier.name, embedder, endpoint_location(ep.location, ep.is_local), ep.price))
        route.extend(mine or ([builtin] if tier.name == local_tier else []))
    residency = next((p for p in pipeline.policies if isinstance(p, ResidencyPolicy)), None)
    return EmbeddingService(route, builtin, tiers=[t.name for t in pipeline.tiers], not_embedding=chat_only,
                            signals=pipeline.signals, residency=residency, boundary=pipeline.boundary,
                            fallback=pipeline.settings.routing.fallback_up_chain)
