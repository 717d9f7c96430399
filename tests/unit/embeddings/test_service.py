"""The embeddings route: which embedder answers, residency (fail closed), keys, fallback, the boundary."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

from smallfirst.core.boundary import BoundaryHeld
from smallfirst.core.errors import (
    BadRequestError,
    PermissionDeniedError,
    PolicyBlockedError,
    ResidencyUnavailableError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamUnavailableError,
)
from smallfirst.core.types import OPEN, Admission, ChatRequest, Price, Signals
from smallfirst.embeddings.service import Candidate, EmbeddingService
from smallfirst.embeddings.types import Embedded, EmbeddingRequest
from smallfirst.request import RequestContext
from smallfirst.wire.openai_embeddings import as_chat


@dataclass
class Stub:
    name: str
    model: str
    dims: int = 4
    fail: UpstreamError | None = None
    calls: list[tuple[str, ...]] = field(default_factory=list)

    async def embed(self, texts: Sequence[str], dimensions: int | None, user: str | None) -> Embedded:
        self.calls.append(tuple(texts))
        if self.fail is not None:
            raise self.fail
        return Embedded(np.ones((len(texts), self.dims), dtype=np.float32), 10 * len(texts), self.model)

    async def aclose(self) -> None:
        return None


class OnlyLocalWhen:
    """A residency policy stand-in: inputs containing ``word`` may go only to "local"."""

    def __init__(self, word: str) -> None:
        self.word = word

    def allowed_locations(self, request: ChatRequest, signals: Signals) -> tuple[frozenset[str] | None, list[str]]:
        if self.word in request.text() or "pii" in signals.sensitive_classes:
            return frozenset({"local"}), ["pii (email×1)"]
        return None, []


class HoldRemote:
    """A boundary screen stand-in that finds PII in everything."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def check(self, request: ChatRequest, signals: Signals | None, location: str) -> Signals | None:
        self.seen.append(location)
        raise BoundaryHeld(f"boundary screen: pii → not sent to {location}", Signals(sensitive_classes=("pii",)))


def service(route: Sequence[Candidate], *, residency: OnlyLocalWhen | None = None, boundary: HoldRemote | None = None,
            fallback: bool = True, chat_only: dict[str, str] | None = None) -> EmbeddingService:
    builtin = Candidate("local", Stub("builtin:all-minilm-l6-v2", "all-minilm-l6-v2", 384), "local", None)
    return EmbeddingService(route, builtin, tiers=["local", "mid", "frontier"], not_embedding=chat_only or {},
                            signals=lambda r: Signals(task_type="chat"), residency=residency, boundary=boundary,
                            fallback=fallback)


def run(svc: EmbeddingService, model: str = "smallfirst/auto", inputs: tuple[str, ...] = ("hello",),
        admission: Admission = OPEN) -> tuple[Embedded, RequestContext, str, str]:
    req = EmbeddingRequest(model, inputs)
    ctx = RequestContext()
    out, decision = asyncio.run(svc.embed(req, as_chat(req), ctx, admission))
    return out, ctx, decision.endpoint, decision.tier


def cand(tier: str, name: str, model: str, location: str = "local", price: Price | None = None, **kw: object
         ) -> Candidate:
    return Candidate(tier, Stub(name, model, **kw), location, price)  # type: ignore[arg-type]


def test_no_embedding_endpoint_means_the_builtin_model_serves() -> None:
    out, ctx, endpoint, tier = run(service([]), "text-embedding-3-small")
    assert endpoint == "builtin:all-minilm-l6-v2" and tier == "local" and out.vectors.shape == (1, 384)
    assert ctx.signals is not None and ctx.signals.task_type == "embeddings"
    assert "built-in" in ctx.reason and [a.outcome for a in ctx.attempts] == ["ok"]


def test_configured_endpoints_serve_in_chain_order_with_their_price() -> None:
    price = Price(0.02, 0.0, "config")
    svc = service([cand("mid", "ollama:nomic", "nomic", price=price), cand("frontier", "openai:te3", "te3", "remote")])
    _, ctx, endpoint, tier = run(svc, inputs=("a", "b"))
    assert (endpoint, tier) == ("ollama:nomic", "mid")
    assert ctx.attempts[0].cost_usd == pytest.approx(20 * 0.02 / 1e6)
    assert ctx.attempts[0].usage.prompt_tokens == 20 and ctx.attempts[0].location == "local"


def test_a_model_name_picks_its_endpoint_the_builtin_or_a_tier() -> None:
    svc = service([cand("mid", "ollama:nomic", "nomic"), cand("frontier", "openai:te3", "te3", "remote")])
    assert run(svc, "te3")[2] == "openai:te3"
    assert run(svc, "openai:te3")[2] == "openai:te3"
    assert run(svc, "sentence-transformers/all-MiniLM-L6-v2")[2] == "builtin:all-minilm-l6-v2"
    assert run(svc, "smallfirst/frontier")[2] == "openai:te3"
    with pytest.raises(BadRequestError) as info:
        run(svc, "smallfirst/local")
    assert info.value.param == "model" and "tier 'local'" in info.value.message


def test_a_chat_only_model_is_refused_with_the_endpoint_named() -> None:
    with pytest.raises(BadRequestError) as info:
        run(service([], chat_only={"smollm2-135m": "embedded:smollm2-135m"}), "smollm2-135m")
    assert info.value.param == "model" and "embedded:smollm2-135m" in info.value.message
    assert "capabilities" in info.value.hint


def test_residency_keeps_a_sensitive_input_on_the_host() -> None:
    remote = cand("mid", "openai:te3", "te3", "us")
    local = cand("frontier", "local:nomic", "nomic")
    svc = service([remote, local], residency=OnlyLocalWhen("jane@example.com"))
    assert run(svc, inputs=("plain",))[2] == "openai:te3"
    _, ctx, endpoint, _ = run(svc, inputs=("plain", "mail jane@example.com"))
    assert endpoint == "local:nomic" and "residency" in ctx.reason and "removed openai:te3 (us)" in ctx.reason
    assert remote.embedder.calls == [("plain",)]  # type: ignore[attr-defined]


def test_residency_fails_closed_when_only_remote_embedders_exist() -> None:
    remote = cand("frontier", "openai:te3", "te3", "us")
    svc = service([remote], residency=OnlyLocalWhen("jane@example.com"))
    with pytest.raises(PolicyBlockedError) as info:
        run(svc, inputs=("mail jane@example.com",))
    assert info.value.status == 403 and "fail closed" in info.value.message
    assert "jane" not in info.value.message and remote.embedder.calls == []  # type: ignore[attr-defined]


def test_a_failing_local_embedder_is_a_503_and_nothing_leaves() -> None:
    local = cand("local", "local:nomic", "nomic", fail=UpstreamUnavailableError("down"))
    remote = cand("frontier", "openai:nomic", "nomic", "us")  # the same model: would be a valid replica
    svc = service([local, remote], residency=OnlyLocalWhen("jane@example.com"))
    with pytest.raises(ResidencyUnavailableError) as info:
        run(svc, inputs=("jane@example.com",))
    assert info.value.status == 503 and remote.embedder.calls == []  # type: ignore[attr-defined]


def test_fallback_goes_only_to_a_replica_of_the_same_model() -> None:
    down = UpstreamUnavailableError("down")
    first = cand("local", "a:nomic", "nomic", fail=down)
    other_model = cand("mid", "b:minilm", "minilm")
    replica = cand("frontier", "c:nomic", "nomic", "remote")
    _, ctx, endpoint, _ = run(service([first, other_model, replica]))
    assert endpoint == "c:nomic" and other_model.embedder.calls == []  # type: ignore[attr-defined]
    assert [a.outcome for a in ctx.attempts] == ["upstream_unavailable", "ok"]
    assert ctx.escalations == ["local->frontier"]
    with pytest.raises(UpstreamUnavailableError):
        run(service([first, other_model]))
    with pytest.raises(UpstreamUnavailableError):
        run(service([first, replica], fallback=False))


def test_a_non_retryable_upstream_error_is_not_retried() -> None:
    bad = cand("local", "a:nomic", "nomic", fail=UpstreamBadRequestError("too long"))
    replica = cand("mid", "b:nomic", "nomic")
    with pytest.raises(UpstreamBadRequestError):
        run(service([bad, replica]))
    assert replica.embedder.calls == []  # type: ignore[attr-defined]


def test_the_key_keeps_only_the_tiers_it_may_use() -> None:
    svc = service([cand("local", "a:nomic", "nomic"), cand("frontier", "b:te3", "te3", "remote")])
    assert run(svc, admission=Admission("k1", ("frontier",)))[2] == "b:te3"
    with pytest.raises(PermissionDeniedError):
        run(svc, admission=Admission("k1", ("mid",)))


def test_the_boundary_screen_holds_an_off_host_call_and_a_local_embedder_answers() -> None:
    remote = cand("mid", "openai:te3", "te3", "us")
    local = cand("frontier", "local:nomic", "nomic")
    screen = HoldRemote()
    _, ctx, endpoint, _ = run(service([remote, local], boundary=screen))
    assert endpoint == "local:nomic" and screen.seen == ["us"] and remote.embedder.calls == []  # type: ignore[attr-defined]
    assert [a.outcome for a in ctx.attempts] == ["boundary_held", "ok"] and "boundary screen" in ctx.reason
    assert ctx.signals is not None and ctx.signals.sensitive_classes == ("pii",)
    with pytest.raises(PolicyBlockedError):
        run(service([remote], boundary=HoldRemote()))
