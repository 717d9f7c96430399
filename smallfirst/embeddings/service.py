"""The embeddings route: which embedder serves a request, residency, fallback, and what the log records.

The route is, tier by tier in chain order (cheapest first, endpoints in file order), every configured
endpoint whose capabilities include ``embeddings``, with the built-in local model (:mod:`.minilm`) standing
in for the first tier on this host when that tier has none (the default local tier — the embedded chat
model — does not embed; with no tier on this host it goes first): local first, as for chat. A ``model``
that names an embedding endpoint (its ``model`` or ``name``), or the built-in model (``all-minilm-l6-v2``),
is served by it alone; ``smallfirst/<tier>`` keeps that tier's embedders; any other name
(``smallfirst/auto``, ``text-embedding-3-small`` …) takes the route.

Then, as for chat: the caller's API key keeps the tiers it may use; the residency policy keeps the
embedders its input may go to (fail closed: no embedder left is a 403, a failure of the ones left is a
503, never a call off the host); the boundary screen runs before a call leaves the host. The first
embedder left answers. On a retryable failure (timeout, 5xx, connection) the next one is tried only if
it serves the same model: vectors of different models are not comparable, so a vector index never gets
a different model's vectors silently.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from smallfirst.core.boundary import BoundaryCheck, BoundaryHeld
from smallfirst.core.errors import (
    BadRequestError,
    PermissionDeniedError,
    PolicyBlockedError,
    ResidencyUnavailableError,
    UpstreamError,
)
from smallfirst.core.types import MODEL_PREFIX, Admission, Attempt, ChatRequest, Decision, Price, Signals, Usage
from smallfirst.embeddings.minilm import NAMES as BUILTIN_NAMES
from smallfirst.embeddings.types import Embedded, Embedder, EmbeddingRequest
from smallfirst.request import RequestContext

LOCAL = "local"
SignalFn = Callable[[ChatRequest], Signals]


class Locations(Protocol):
    """The residency policy as the route reads it (:class:`smallfirst.policy.residency.ResidencyPolicy`)."""

    def allowed_locations(self, request: ChatRequest, signals: Signals) -> tuple[frozenset[str] | None, list[str]]:
        ...


@dataclass(frozen=True, slots=True)
class Candidate:
    """One embedder on the route, with the tier it counts under, where it sends data and its price."""

    tier: str
    embedder: Embedder
    location: str  # "local" (this host), or a region / "site" / "remote"
    price: Price | None  # None: unknown (cost logged as 0)

    def cost(self, tokens: int) -> float:
        return self.price.cost(Usage(tokens, 0)) if self.price is not None else 0.0


class EmbeddingService:
    def __init__(self, route: Sequence[Candidate], builtin: Candidate, *, tiers: Sequence[str],
                 not_embedding: Mapping[str, str], signals: SignalFn, residency: Locations | None = None,
                 boundary: BoundaryCheck | None = None, fallback: bool = True) -> None:
        """``route``: the embedders in chain order, the built-in among them where it stands in (see
        :func:`smallfirst.pipeline.embeddings.build_embeddings`; empty: the built-in alone); ``not_embedding``:
        names of configured chat-only endpoints (model or label → label), refused with a clear 400."""
        self.route = tuple(route) or (builtin,)
        self.builtin = builtin
        self.configured = tuple(c for c in self.route if c is not builtin)
        self.tiers = tuple(tiers)
        self.not_embedding = dict(not_embedding)
        self._signals = signals
        self.residency = residency
        self.boundary = boundary
        self.fallback = fallback
        self._by_name: dict[str, list[Candidate]] = {}
        for c in self.configured:
            for key in {c.embedder.model, c.embedder.name}:
                self._by_name.setdefault(key, []).append(c)

    # ---- choosing ----------------------------------------------------------------------------------

    def candidates(self, model: str) -> tuple[list[Candidate], str]:
        """The embedders ``model`` may use, in order, and why."""
        if model in self._by_name:
            return list(self._by_name[model]), f"model {model} names an embedding endpoint"
        if model.lower() in BUILTIN_NAMES:
            return [self.builtin], "the built-in local model was named"
        if model in self.not_embedding:
            raise BadRequestError(f"model {model!r} (endpoint {self.not_embedding[model]}) does not serve "
                                  "embeddings", param="model",
                                  hint="send smallfirst/auto to use the embeddings route, or set "
                                       "[tiers.endpoints.capabilities] embeddings = true on an endpoint whose "
                                       "model embeds")
        tier = model[len(MODEL_PREFIX):] if model.startswith(MODEL_PREFIX) else None
        if tier is not None and tier in self.tiers:
            keep = [c for c in self.route if c.tier == tier]
            if not keep:
                raise BadRequestError(f"tier {tier!r} has no endpoint that serves embeddings", param="model",
                                      hint="send smallfirst/auto, or set [tiers.endpoints.capabilities] "
                                           "embeddings = true on an endpoint of that tier")
            return keep, f"pinned to tier {tier}"
        if self.route[0] is self.builtin:
            return list(self.route), "the built-in local model (no embedding endpoint in the first tier on this host)"
        return list(self.route), "the first embedding endpoint in chain order"

    def _allowed(self, cands: Sequence[Candidate], chat: ChatRequest, sig: Signals) -> tuple[list[Candidate], str]:
        """Residency's cut: the candidates the input may go to ('' when residency does not restrict it)."""
        if self.residency is None:
            return list(cands), ""
        allowed, why = self.residency.allowed_locations(chat, sig)
        if allowed is None:
            return list(cands), ""
        keep = [c for c in cands if c.location in allowed]
        where = ", ".join(sorted(allowed)) or "nowhere"
        reason = f"residency: {'; '.join(why)} → only {where}"
        removed = [f"{c.embedder.name} ({c.location})" for c in cands if c not in keep]
        if removed:
            reason += f"; removed {', '.join(removed)}"
        if not keep:
            raise PolicyBlockedError(f"no embedder may take this input: {reason} (fail closed)",
                                     hint="send smallfirst/auto (the route starts on this host) or name the "
                                          "built-in model all-minilm-l6-v2; or configure an embedding endpoint "
                                          "on this host")
        return keep, reason

    # ---- serving -----------------------------------------------------------------------------------

    async def embed(self, req: EmbeddingRequest, chat: ChatRequest, ctx: RequestContext,
                    admission: Admission) -> tuple[Embedded, Decision]:
        """Embed ``req`` (``chat`` is the same input as a chat request, for the detector and the key's limits)."""
        sig = replace(self._signals(chat), task_type="embeddings")
        ctx.signals = sig
        cands, why = self.candidates(req.model)
        if admission.tiers is not None:
            cands = [c for c in cands if c.tier in admission.tiers]
            if not cands:
                raise PermissionDeniedError(f"API key {admission.key_id} may not use a tier that serves embeddings "
                                            "(allowed tiers or budget left)",
                                            hint="ask the operator for a key that allows the embedding tier")
        chain, held = self._allowed(cands, chat, sig)
        ctx.reason = "embeddings: " + why + (f"; {held}" if held else "")
        last: UpstreamError | None = None
        tried: list[Candidate] = []
        i = 0
        while i < len(chain):
            c = chain[i]
            i += 1
            if tried and (not self.fallback or c.embedder.model != tried[0].embedder.model):
                continue  # only a replica of the same model may stand in
            if c.location != LOCAL and self.boundary is not None:
                try:
                    screened = await self.boundary.check(chat, ctx.signals, c.location)
                except BoundaryHeld as stop:
                    ctx.signals = replace(stop.signals, task_type="embeddings")
                    ctx.attempts.append(Attempt(c.tier, c.embedder.model, c.embedder.name, "boundary_held",
                                                location=c.location))
                    chain = [x for x in chain[i - 1:] if x.location == LOCAL]  # what the screen found stays here
                    held = stop.reason
                    ctx.reason = f"embeddings: {why}; {held}"
                    if not chain:
                        raise PolicyBlockedError(f"no embedder on this host may take this input: {held} "
                                                 "(fail closed)", hint="configure an embedding endpoint on this "
                                                 "host, or name the built-in model all-minilm-l6-v2") from None
                    i = 0
                    continue
                if screened is not None:
                    ctx.signals = replace(screened, task_type="embeddings")
            tried.append(c)
            t0 = time.perf_counter()
            try:
                out = await c.embedder.embed(req.inputs, req.dimensions, req.user)
            except UpstreamError as err:
                ctx.attempts.append(Attempt(c.tier, c.embedder.model, c.embedder.name, err.code or "error",
                                            (time.perf_counter() - t0) * 1000.0, location=c.location))
                last = err
                if err.retryable:
                    continue
                raise
            cost = c.cost(out.prompt_tokens)
            ctx.attempts.append(Attempt(c.tier, c.embedder.model, c.embedder.name, "ok",
                                        (time.perf_counter() - t0) * 1000.0, cost, Usage(out.prompt_tokens, 0),
                                        c.location))
            if tried[0].tier != c.tier:
                ctx.escalations.append(f"{tried[0].tier}->{c.tier}")
            return out, Decision(c.tier, c.embedder.model, c.embedder.name, ctx.reason, tuple(ctx.escalations),
                                 tuple(ctx.attempts), sum(a.cost_usd for a in ctx.attempts))
        assert last is not None
        if held:
            raise ResidencyUnavailableError(f"the embedders this input may go to failed ({last.message}); it is "
                                            f"not sent elsewhere: {held}", hint=last.hint or
                                            "bring the local embedder back; the input stays on this host") from last
        raise last

    async def aclose(self) -> None:
        for c in (*self.configured, self.builtin):
            await c.embedder.aclose()
