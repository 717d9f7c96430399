"""The request path: signals → policies → router → tier chain → (accept check) → record.

Depends on protocols and core types only; concrete backends, routers, policies and stores are
injected by the app factory.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from smallfirst.asking import asker
from smallfirst.cache import ResponseCache
from smallfirst.cache.hook import CacheHook
from smallfirst.cache.replay import collected
from smallfirst.core.boundary import BoundaryCheck, BoundaryHeld
from smallfirst.core.errors import (
    ModelNotFoundError,
    PolicyBlockedError,
    ResidencyUnavailableError,
    SmallfirstError,
    UpstreamBadRequestError,
    UpstreamError,
)
from smallfirst.core.protocols import AnswerCheck, Backend, Policy, Router, Store
from smallfirst.core.suggest import hint_for
from smallfirst.core.tiers import Endpoint, Tier
from smallfirst.core.types import (
    AUTO_MODEL,
    MODEL_PREFIX,
    OPEN,
    Admission,
    Attempt,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Decision,
    Signals,
)
from smallfirst.recorder import Observer, Recorder
from smallfirst.request import Plan, RequestContext, Step, decision
from smallfirst.stream import Stream, aiter_chunks, replay

SignalFn = Callable[[ChatRequest], Signals]


def _moves_on(err: UpstreamError) -> bool:
    """May the chain try the next endpoint after ``err``? After transient failures, and after an endpoint
    rejected the request's shape (400): another endpoint or a higher tier may accept it. Residency still
    holds: the plan only holds steps the request may use."""
    return err.retryable or isinstance(err, UpstreamBadRequestError)


class Engine:
    def __init__(
        self,
        tiers: Sequence[Tier],
        router: Router,
        store: Store,
        *,
        signals: SignalFn,
        policies: Sequence[Policy] = (),
        fallback_up_chain: bool = True,
        max_escalations: int = 2,
        store_prompts: bool = False,
        observers: Sequence[Observer] = (),
        checker: AnswerCheck | None = None,
        boundary: BoundaryCheck | None = None,
        cache: ResponseCache | None = None,
    ) -> None:
        self.tiers = list(tiers)
        self.router = router
        self.store = store
        self.policies = list(policies)
        self._signals = signals
        self.fallback_up_chain = fallback_up_chain
        self.max_escalations = max_escalations
        self.store_prompts = store_prompts
        self.checker = checker  # the cascade's contract/confidence check (None: accept every answer)
        self.boundary = boundary  # the thorough residency screen before any call that leaves the host
        # the response cache ([cache]): looked up before planning, written after an accepted answer
        self.cache = CacheHook(cache, signals, self._checker) if cache is not None else None
        self._id_prefix = "req-" + os.urandom(6).hex() + "-"  # unique per process start; a counter after it
        self._ids = itertools.count(1)
        self._by_tier = {t.name: t for t in self.tiers}
        self._by_endpoint = {(t.name, e.backend.name): e for t in self.tiers for e in t.endpoints}
        self._by_model: dict[str, tuple[Tier, Endpoint]] = {}
        for t in self.tiers:
            for e in t.endpoints:
                self._by_model.setdefault(e.backend.model, (t, e))
                self._by_model.setdefault(e.backend.name, (t, e))
        # the request log's writer; observers (e.g. metrics) are called with every logged record
        self.recorder = Recorder(store, observers=observers, policies=self.policies, store_prompts=store_prompts,
                                 endpoints=self._by_endpoint)
        self.record = self.recorder.record

    def context(self) -> RequestContext:
        """A new per-request context with a unique id (no syscall per request). Only the engine writes it:
        the server reports what it learnt with :meth:`caller` and :meth:`received`."""
        return RequestContext(request_id=f"{self._id_prefix}{next(self._ids):x}")

    @staticmethod
    def caller(ctx: RequestContext, key_id: str | None) -> None:
        """The gateway key the request authenticated with (None: no key)."""
        ctx.api_key_id = key_id

    @staticmethod
    def received(ctx: RequestContext, body: Mapping[str, Any]) -> None:
        """The raw body, before it is parsed: the model asked for and whether it streams, for the log row
        even of a request that fails to parse."""
        model = body.get("model")
        ctx.requested_model = model if isinstance(model, str) else ""
        ctx.stream = body.get("stream") is True

    # ---- planning ------------------------------------------------------------------------------

    def model_ids(self) -> list[tuple[str, str]]:
        """(id, owned_by) for /v1/models: auto, each tier, each concrete model."""
        out = [(AUTO_MODEL, "smallfirst")]
        out += [(MODEL_PREFIX + t.name, "smallfirst") for t in self.tiers]
        seen: set[str] = set()
        for t in self.tiers:
            for e in t.endpoints:
                if e.backend.model not in seen:
                    seen.add(e.backend.model)
                    out.append((e.backend.model, f"smallfirst:{t.name}"))
        return out

    def endpoints(self) -> list[tuple[Tier, Endpoint]]:
        return [(t, e) for t in self.tiers for e in t.endpoints]

    def plan(self, request: ChatRequest, ctx: RequestContext, signals: Signals | None = None,
             admission: Admission = OPEN) -> Plan:
        sig = signals if signals is not None else self._signals(request)
        ctx.signals = sig
        ctx.request = request
        names = [t.name for t in self.tiers]
        allowed = names
        pinned = False
        held: set[str] = set()  # tiers removed by a pinning (fail-closed) policy
        reasons: list[str] = []
        if admission.tiers is not None:  # the caller's API key: its allowed tiers, and those its budget covers
            allowed = [n for n in names if n in admission.tiers]
            if len(allowed) < len(names):
                dropped = ", ".join(n for n in names if n not in admission.tiers)
                reasons.append(f"key {admission.key_id}: may not use {dropped} (allowed tiers or budget left)")
        for policy in self.policies:
            res = policy.check(request, sig, allowed)
            if res.pin_local:
                held.update(n for n in allowed if n not in res.allowed)
            allowed = [n for n in allowed if n in res.allowed]
            reasons.extend(res.reasons)
            pinned = pinned or res.pin_local
        if not allowed:
            why = "; ".join(reasons) or "no tier allowed"
            raise PolicyBlockedError(f"no tier may serve this request: {why}",
                                     hint="add a tier that satisfies the policy, or relax the policy in config")
        model = request.model
        withheld: tuple[str, ...] = ()
        if model == AUTO_MODEL:
            choice = self.router.choose(request, sig, allowed)
            start = allowed.index(choice.tier) if choice.tier in allowed else 0
            chain = allowed[start:] if self.fallback_up_chain else [allowed[start]]
            steps = [Step(self._by_tier[n], e) for n in chain for e in self._by_tier[n].order()]
            reason = choice.reason
            if held and self.fallback_up_chain:
                withheld = tuple(n for n in names[names.index(chain[0]) + 1:] if n in held)
        elif model.startswith(MODEL_PREFIX) and model[len(MODEL_PREFIX):] in self._by_tier:
            name = model[len(MODEL_PREFIX):]
            if name not in allowed:
                raise PolicyBlockedError(f"tier {name!r} is not allowed for this request: {'; '.join(reasons)}",
                                         hint="use smallfirst/auto or a tier the policy allows")
            tier = self._by_tier[name]
            steps = [Step(tier, e) for e in tier.order()]
            reason = f"pinned: tier {name} requested"
        elif model in self._by_model:
            tier, ep = self._by_model[model]
            if tier.name not in allowed:
                raise PolicyBlockedError(f"model {model!r} (tier {tier.name}) is not allowed for this request: "
                                         f"{'; '.join(reasons)}", hint="use smallfirst/auto or a local model")
            steps = [Step(tier, ep)]
            reason = f"pinned: model {model} requested"
        else:
            ids = [i for i, _ in self.model_ids()]
            raise ModelNotFoundError(f"model {model!r} is not served here",
                                     hint=hint_for([model], ids, f"use one of: {', '.join(ids)}"),
                                     param="model")
        if sig.needs.hard:  # inside a tier: only the endpoints that can (the capability policy kept the tier)
            steps = [s for s in steps if not sig.needs.missing(s.endpoint.capabilities)] or steps
        if reasons:
            reason = f"{reason}; " + "; ".join(reasons)
        ctx.reason = reason
        return Plan(tuple(steps), reason, pinned, withheld, admission)

    # ---- serving ---------------------------------------------------------------------------------

    def _fail(self, ctx: RequestContext, step: Step, err: SmallfirstError, t: float) -> None:
        ctx.attempts.append(Attempt(step.tier.name, step.endpoint.backend.model, step.endpoint.backend.name,
                                    err.code or "error", (time.perf_counter() - t) * 1000.0,
                                    location=step.endpoint.location))

    @staticmethod
    def _fail_closed(plan: Plan, err: UpstreamError) -> None:
        """After the last allowed step failed: when a pinning (residency) policy withheld the fallback
        the request would otherwise get, raise a 503 naming the policy (fail closed)."""
        if plan.withheld and err.retryable:
            raise ResidencyUnavailableError(
                f"residency policy: the tiers this request may use could not answer ({err.code}: {err.message}); "
                f"it was not sent to {', '.join(plan.withheld)} (fail closed)",
                hint="fix or add a local backend, or allow this data class elsewhere in [residency.classes]") from err

    def _may_continue(self, plan: Plan, ctx: RequestContext, i: int, step: Step) -> bool:
        if i + 1 >= len(plan.steps):
            return False
        nxt = plan.steps[i + 1]
        if nxt.tier.name != step.tier.name:
            if len(ctx.escalations) >= self.max_escalations:
                return False
            ctx.escalations.append(f"{step.tier.name}->{nxt.tier.name}")
        return True

    async def _cross(self, request: ChatRequest, ctx: RequestContext, step: Step) -> None:
        """Before a call to ``step`` leaves this host: the boundary screen (raises BoundaryHeld to re-plan)."""
        if self.boundary is None or step.endpoint.location == "local":
            return
        updated = await self.boundary.check(request, ctx.signals, step.endpoint.location)
        if updated is not None:
            ctx.signals = updated

    def _replan(self, request: ChatRequest, ctx: RequestContext, plan: Plan, held: BoundaryHeld,
                tried: set[tuple[str, str]]) -> Plan:
        """The plan again with what the boundary screen found, minus the steps already tried (fail closed
        when none is left: the only tiers this request may use have failed)."""
        plan = self.plan(request, ctx, signals=held.signals, admission=plan.admission)
        ctx.reason = f"{ctx.reason}; {held.reason}"
        steps = tuple(st for st in plan.steps if (st.tier.name, st.endpoint.backend.name) not in tried)
        if not steps:
            raise ResidencyUnavailableError(
                f"residency policy: {held.reason}; the tiers this request may use were tried and could not answer "
                "(fail closed)", hint="fix or add a local backend, or allow this data class elsewhere in "
                "[residency.classes]")
        return replace(plan, steps=steps)

    def _checker(self, request: ChatRequest, ctx: RequestContext) -> AnswerCheck | None:
        c = self.checker
        return c if c is not None and c.applies(request, ctx.signals or Signals()) else None

    async def complete(self, request: ChatRequest, ctx: RequestContext,
                       admission: Admission = OPEN) -> tuple[ChatResponse, Decision]:
        cache = self.cache
        looked = await cache.look(request, ctx) if cache is not None else None
        if cache is not None and looked is not None and looked.hit is not None:
            return cache.hit(ctx, looked.hit)[:2]
        plan = self.plan(request, ctx, signals=ctx.signals, admission=admission)
        resp, decided = await self._complete(request, ctx, plan, self._checker(request, ctx))
        if cache is not None and looked is not None:
            await cache.keep(ctx, looked, resp, decided.tier, decided.cost_usd, decided.attempts[-1].outcome == "ok")
        return resp, decided

    async def _complete(self, request: ChatRequest, ctx: RequestContext, plan: Plan,
                        checker: AnswerCheck | None) -> tuple[ChatResponse, Decision]:
        sig = ctx.signals or Signals()
        last: SmallfirstError | None = None
        tried: set[tuple[str, str]] = set()
        i = 0
        while i < len(plan.steps):
            step = plan.steps[i]
            backend: Backend = step.endpoint.backend
            sent = checker.prepare(request, sig, step.tier.name, step.endpoint.capabilities) if checker else request
            try:
                await self._cross(sent, ctx, step)
            except BoundaryHeld as held:
                plan, i = self._replan(request, ctx, plan, held, tried), 0
                sig = ctx.signals or Signals()
                continue
            tried.add((step.tier.name, backend.name))
            t = time.perf_counter()
            try:
                resp = await backend.complete(sent)
            except UpstreamError as err:
                self._fail(ctx, step, err, t)
                last = err
                if _moves_on(err) and self._may_continue(plan, ctx, i, step):
                    i += 1
                    continue
                self._fail_closed(plan, err)
                raise
            answer_ms = (time.perf_counter() - t) * 1000.0
            rejected = None
            if checker is not None:  # extra calls made by the check are attempts too, logged before this one
                rejected = await checker.check(sent, sig, resp, step.tier.name, asker(self._cross, ctx, plan, i, step))
            ctx.attempts.append(Attempt(step.tier.name, backend.model, backend.name, rejected or "ok", answer_ms,
                                        step.endpoint.cost(resp.usage), resp.usage, step.endpoint.location))
            if rejected is not None and checker is not None:
                nxt = self._next_tier(plan, ctx, i, step) if checker.escalates(request) else None
                if nxt is not None:
                    i = nxt
                    continue
                higher = any(s.tier.name != step.tier.name for s in plan.steps[i + 1:])
                why = ("escalation is off for it" if not checker.escalates(request) else
                       "the escalation cap (routing.max_escalations) is reached" if higher else
                       "no higher tier may answer")
                ctx.reason += f"; answer failed check ({rejected}) but {why}"
            return (checker.restore(request, resp) if checker else resp), decision(ctx, step)
        assert last is not None  # plan.steps is never empty
        raise last

    def _next_tier(self, plan: Plan, ctx: RequestContext, i: int, step: Step) -> int | None:
        """After a rejected answer: index of the next tier's first step (escalation recorded), or None."""
        j = next((k for k in range(i + 1, len(plan.steps)) if plan.steps[k].tier.name != step.tier.name), None)
        if j is None or len(ctx.escalations) >= self.max_escalations:
            return None
        ctx.escalations.append(f"{step.tier.name}->{plan.steps[j].tier.name}")
        return j

    async def open_stream(self, request: ChatRequest, ctx: RequestContext, admission: Admission = OPEN) -> Stream:
        """Try endpoints until one yields its first chunk; after that the stream is committed.

        A request with a contract is answered and checked in full first (the cascade needs the whole
        answer), then replayed as a stream: nothing reaches the client before the check passes.
        """
        cache = self.cache
        looked = await cache.look(request, ctx) if cache is not None else None
        if cache is not None and looked is not None and looked.hit is not None:
            resp, decided, hit_step = cache.hit(ctx, looked.hit)
            ctx.ttft_ms = ctx.elapsed_ms()
            chunks = replay(resp)
            return Stream(ctx, hit_step, chunks[0], aiter_chunks(chunks[1:]), time.perf_counter(), decided=decided)
        plan = self.plan(request, ctx, signals=ctx.signals, admission=admission)
        checker = self._checker(request, ctx)
        if checker is not None:
            resp, decided = await self._complete(request, ctx, plan, checker)
            if cache is not None and looked is not None:
                await cache.keep(ctx, looked, resp, decided.tier, decided.cost_usd,
                                 decided.attempts[-1].outcome == "ok")
            ctx.ttft_ms = ctx.elapsed_ms()
            step = next(s for s in plan.steps if s.endpoint.backend.name == decided.endpoint)
            return Stream(ctx, step, replay(resp)[0], aiter_chunks(replay(resp)[1:]), time.perf_counter(),
                          decided=decided)
        last: SmallfirstError | None = None
        tried: set[tuple[str, str]] = set()
        i = -1
        while i + 1 < len(plan.steps):
            i += 1
            step = plan.steps[i]
            try:
                await self._cross(request, ctx, step)
            except BoundaryHeld as held:
                plan, i = self._replan(request, ctx, plan, held, tried), -1
                continue
            tried.add((step.tier.name, step.endpoint.backend.name))
            t = time.perf_counter()
            it = step.endpoint.backend.stream(request).__aiter__()
            try:
                first = await it.__anext__()
            except StopAsyncIteration:
                first = ChatChunk(delta={}, finish_reason="stop")
            except UpstreamError as err:
                self._fail(ctx, step, err, t)
                last = err
                if _moves_on(err) and self._may_continue(plan, ctx, i, step):
                    continue
                self._fail_closed(plan, err)
                raise
            ctx.ttft_ms = ctx.elapsed_ms()
            if cache is not None and looked is not None and looked.pending is not None:  # kept when it ends cleanly
                it = collected(first, it, step.endpoint.backend.model, cache.keeper(ctx, looked, step))
            return Stream(ctx, step, first, it, t)
        assert last is not None
        raise last

    async def aclose(self) -> None:
        for t in self.tiers:
            for e in t.endpoints:
                await e.backend.aclose()

