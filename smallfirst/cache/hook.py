"""The response cache on the request path: looked up before planning, written after an accepted answer.

The engine calls :meth:`CacheHook.look` first; a hit becomes a served request (tier and endpoint
``cache``, on this host, cost 0, the reason saying what it saved) through :meth:`CacheHook.hit`; a miss
that may be kept is written by :meth:`CacheHook.keep` once the answer passed its check (a live stream:
when it ends cleanly, through :meth:`CacheHook.keeper`). A semantic candidate must pass the request's
contract check, without further model calls, before it is served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from smallfirst.cache import Hit, Lookup, ResponseCache
from smallfirst.cache.replay import CACHE, cache_tier
from smallfirst.core.protocols import AnswerCheck
from smallfirst.core.types import Attempt, ChatRequest, ChatResponse, Decision, Signals
from smallfirst.request import RequestContext, Step, decision

CheckerFor = Callable[[ChatRequest, RequestContext], AnswerCheck | None]


async def _no_ask(request: ChatRequest, *, purpose: str, higher: bool = False) -> ChatResponse | None:
    return None  # a cached answer is checked without further model calls


class CacheHook:
    def __init__(self, cache: ResponseCache, signals: Callable[[ChatRequest], Signals], checker: CheckerFor) -> None:
        self.cache = cache
        self._signals = signals
        self._checker = checker

    async def look(self, request: ChatRequest, ctx: RequestContext) -> Lookup:
        ctx.signals = sig = self._signals(request)
        ctx.request = request
        checker = self._checker(request, ctx)

        async def accept(resp: ChatResponse) -> bool:
            return checker is None or await checker.check(request, sig, resp, CACHE, _no_ask) is None

        looked = await self.cache.lookup(request, sig, accept)
        ctx.cache = looked.status
        return looked

    def hit(self, ctx: RequestContext, hit: Hit) -> tuple[ChatResponse, Decision, Step]:
        tier, ep = cache_tier(hit.response)
        near = f" (similarity {hit.similarity:.3f})" if hit.similarity is not None else ""
        ctx.reason = (f"cache: {hit.kind} hit{near}, first answered by tier {hit.tier} ({hit.model}) "
                      f"{hit.age_s:.0f} s ago; saved {hit.saved_usd:.8f} USD")
        ctx.attempts.append(Attempt(CACHE, hit.model, CACHE, "ok", ctx.elapsed_ms(), 0.0, hit.response.usage, "local"))
        step = Step(tier, ep)
        return hit.response, decision(ctx, step), step

    async def keep(self, ctx: RequestContext, looked: Lookup, resp: ChatResponse, tier: str, cost: float,
                   accepted: bool) -> None:
        if looked.pending is not None and accepted:
            await self.cache.keep(looked.pending, resp, tier, cost, ctx.signals or Signals())

    def keeper(self, ctx: RequestContext, looked: Lookup, step: Step) -> Callable[[ChatResponse], Awaitable[None]]:
        async def keep(resp: ChatResponse) -> None:
            cost = sum(a.cost_usd for a in ctx.attempts) + step.endpoint.cost(resp.usage)
            await self.keep(ctx, looked, resp, step.tier.name, cost, True)

        return keep
