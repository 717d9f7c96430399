"""The cascade check's way to get more answers during one request (``Ask``): the same step's endpoint
again (e.g. a self-consistency sample), or the next tier's first endpoint — each call screened at the
host boundary first and logged as an attempt of the request."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from smallfirst.core.boundary import BoundaryHeld
from smallfirst.core.errors import UpstreamError
from smallfirst.core.protocols import Ask
from smallfirst.core.types import Attempt, ChatRequest, ChatResponse
from smallfirst.request import Plan, RequestContext, Step

Cross = Callable[[ChatRequest, RequestContext, Step], Awaitable[None]]  # raises BoundaryHeld to withhold


def asker(cross: Cross, ctx: RequestContext, plan: Plan, i: int, step: Step) -> Ask:
    """An ``Ask`` for the check of ``plan.steps[i]``'s answer."""

    async def ask(request: ChatRequest, *, purpose: str, higher: bool = False) -> ChatResponse | None:
        target = step
        if higher:
            j = next((k for k in range(i + 1, len(plan.steps)) if plan.steps[k].tier.name != step.tier.name), None)
            if j is None:
                return None
            target = plan.steps[j]
        b = target.endpoint.backend
        try:
            await cross(request, ctx, target)
        except BoundaryHeld as held:
            ctx.reason += f"; {purpose} call withheld ({held.reason})"
            return None
        t = time.perf_counter()
        try:
            resp = await b.complete(request)
        except UpstreamError as err:
            ctx.attempts.append(Attempt(target.tier.name, b.model, b.name, f"{purpose}:{err.code or 'error'}",
                                        (time.perf_counter() - t) * 1000.0, location=target.endpoint.location))
            return None
        ctx.attempts.append(Attempt(target.tier.name, b.model, b.name, purpose, (time.perf_counter() - t) * 1000.0,
                                    target.endpoint.cost(resp.usage), resp.usage, target.endpoint.location))
        return resp

    return ask
