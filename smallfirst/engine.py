"""The request path: signals → policies → router → tier chain → (accept check) → record.

Depends on protocols and core types only; concrete backends, routers, policies and stores are
injected by the app factory.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from smallfirst.cache import Hit, Lookup, ResponseCache
from smallfirst.cache.replay import CACHE, cache_tier, collected
from smallfirst.core.boundary import BoundaryCheck, BoundaryHeld
from smallfirst.core.errors import (
    ModelNotFoundError,
    PolicyBlockedError,
    ResidencyUnavailableError,
    SmallfirstError,
    UpstreamBadRequestError,
    UpstreamError,
)
from smallfirst.core.protocols import AnswerCheck, Ask, Backend, Policy, Router, Store
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
    RequestRecord,
    Signals,
    Usage,
)
from smallfirst.request import Plan, RequestContext, Step, decision
from smallfirst.stream import Stream, aiter_chunks, replay

SignalFn = Callable[[ChatRequest], Signals]
Observer = Callable[[RequestRecord], None]


async def _no_ask(request: ChatRequest, *, purpose: str, higher: bool = False) -> ChatResponse | None:
    return None  # a cached answer is checked without further model calls


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
        self._learning = [p for p in self.policies if type(p).served is not Policy.served]  # told what was served
        self._signals = signals
        self.fallback_up_chain = fallback_up_chain
        self.max_escalations = max_escalations
        self.store_prompts = store_prompts
        self.observers = list(observers)  # e.g. metrics; called with every logged record
        self.checker = checker  # the cascade's contract/confidence check (None: accept every answer)
        self.boundary = boundary  # the thorough residency screen before any call that leaves the host
        self.cache = cache  # the response cache ([cache]): looked up before planning, written after an answer
        self._id_prefix = "req-" + os.urandom(6).hex() + "-"  # unique per process start; a counter after it
        self._ids = itertools.count(1)
        self._by_tier = {t.name: t for t in self.tiers}
        self._by_endpoint = {(t.name, e.backend.name): e for t in self.tiers for e in t.endpoints}
        self._by_model: dict[str, tuple[Tier, Endpoint]] = {}
        for t in self.tiers:
            for e in t.endpoints:
                self._by_model.setdefault(e.backend.model, (t, e))
                self._by_model.setdefault(e.backend.name, (t, e))

    def context(self) -> RequestContext:
        """A new per-request context with a unique id (no syscall per request)."""
        return RequestContext(request_id=f"{self._id_prefix}{next(self._ids):x}")

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
        looked = await self._look(request, ctx)
        if looked is not None and looked.hit is not None:
            return self._hit(ctx, looked.hit)[:2]
        plan = self.plan(request, ctx, signals=ctx.signals, admission=admission)
        resp, decided = await self._complete(request, ctx, plan, self._checker(request, ctx))
        await self._keep(ctx, looked, resp, decided.tier, decided.cost_usd, decided.attempts[-1].outcome == "ok")
        return resp, decided

    # ---- the response cache (smallfirst.cache) ---------------------------------------------------

    async def _look(self, request: ChatRequest, ctx: RequestContext) -> Lookup | None:
        """Before planning: the cache's answer, if it has one (None: no cache). A semantic candidate must
        pass this request's contract check (no extra model calls) to be served."""
        if self.cache is None:
            return None
        ctx.signals = sig = self._signals(request)
        ctx.request = request
        checker = self._checker(request, ctx)

        async def accept(resp: ChatResponse) -> bool:
            return checker is None or await checker.check(request, sig, resp, CACHE, _no_ask) is None

        looked = await self.cache.lookup(request, sig, accept)
        ctx.cache = looked.status
        return looked

    def _hit(self, ctx: RequestContext, hit: Hit) -> tuple[ChatResponse, Decision, Step]:
        """A hit as a served request: tier and endpoint "cache", on this host, cost 0; the reason says what
        it saved."""
        tier, ep = cache_tier(hit.response)
        near = f" (similarity {hit.similarity:.3f})" if hit.similarity is not None else ""
        ctx.reason = (f"cache: {hit.kind} hit{near}, first answered by tier {hit.tier} ({hit.model}) "
                      f"{hit.age_s:.0f} s ago; saved {hit.saved_usd:.8f} USD")
        ctx.attempts.append(Attempt(CACHE, hit.model, CACHE, "ok", ctx.elapsed_ms(), 0.0, hit.response.usage, "local"))
        step = Step(tier, ep)
        return hit.response, decision(ctx, step), step

    async def _keep(self, ctx: RequestContext, looked: Lookup | None, resp: ChatResponse, tier: str, cost: float,
                    accepted: bool) -> None:
        """After an answer that passed its check: keep it, when the lookup said the cache may."""
        if self.cache is not None and looked is not None and looked.pending is not None and accepted:
            await self.cache.keep(looked.pending, resp, tier, cost, ctx.signals or Signals())

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
                rejected = await checker.check(sent, sig, resp, step.tier.name, self._ask(ctx, plan, i, step))
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

    def _ask(self, ctx: RequestContext, plan: Plan, i: int, step: Step) -> Ask:
        """The check's way to get more answers: this step's endpoint again, or the next tier's first."""

        async def ask(request: ChatRequest, *, purpose: str, higher: bool = False) -> ChatResponse | None:
            target = step
            if higher:
                j = next((k for k in range(i + 1, len(plan.steps)) if plan.steps[k].tier.name != step.tier.name),
                         None)
                if j is None:
                    return None
                target = plan.steps[j]
            b = target.endpoint.backend
            try:
                await self._cross(request, ctx, target)
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
        looked = await self._look(request, ctx)
        if looked is not None and looked.hit is not None:
            resp, decided, hit_step = self._hit(ctx, looked.hit)
            ctx.ttft_ms = ctx.elapsed_ms()
            chunks = replay(resp)
            return Stream(ctx, hit_step, chunks[0], aiter_chunks(chunks[1:]), time.perf_counter(), decided=decided)
        plan = self.plan(request, ctx, signals=ctx.signals, admission=admission)
        checker = self._checker(request, ctx)
        if checker is not None:
            resp, decided = await self._complete(request, ctx, plan, checker)
            await self._keep(ctx, looked, resp, decided.tier, decided.cost_usd, decided.attempts[-1].outcome == "ok")
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
            if looked is not None and looked.pending is not None:  # kept when the stream ends cleanly
                it = collected(first, it, step.endpoint.backend.model, self._keeper(ctx, looked, step))
            return Stream(ctx, step, first, it, t)
        assert last is not None
        raise last

    def _keeper(self, ctx: RequestContext, looked: Lookup, step: Step) -> Callable[[ChatResponse], Awaitable[None]]:
        async def keep(resp: ChatResponse) -> None:
            cost = sum(a.cost_usd for a in ctx.attempts) + step.endpoint.cost(resp.usage)
            await self._keep(ctx, looked, resp, step.tier.name, cost, True)

        return keep

    # ---- recording -------------------------------------------------------------------------------

    def record(self, ctx: RequestContext, *, status: int, error: SmallfirstError | None = None,
               decision: Decision | None = None, usage: Usage | None = None, response_text: str | None = None
               ) -> None:
        if ctx.recorded:
            return
        ctx.recorded = True
        sig = ctx.signals
        sensitive = sig.sensitive_classes if sig is not None else ()
        found = sig.sensitivity.entities if sig is not None and sig.sensitivity else ()  # types, counts: no text
        keep_text = self.store_prompts and not sensitive
        u = usage or Usage()
        row = RequestRecord(
            request_id=ctx.request_id, ts=ctx.ts, requested_model=ctx.requested_model,
            tier=decision.tier if decision else None, model=decision.model if decision else None,
            endpoint=decision.endpoint if decision else None, status=status,
            error_code=error.code if error else None, reason=ctx.reason or (error.message if error else ""),
            escalations=tuple(ctx.escalations), attempts=self._logged_attempts(ctx), prompt_tokens=u.prompt_tokens,
            completion_tokens=u.completion_tokens, cost_usd=sum(a.cost_usd for a in ctx.attempts),
            latency_ms=ctx.elapsed_ms(), ttft_ms=ctx.ttft_ms, stream=ctx.stream,
            task_type=sig.task_type if sig else None, sensitive=tuple(sensitive), sensitive_entities=found,
            prompt_text=ctx.prompt_text if keep_text else None,
            response_text=response_text if keep_text else None, api_key_id=ctx.api_key_id,
        )
        self.store.record(row)
        for observe in self.observers:
            observe(row)
        if status == 200 and decision is not None and ctx.request is not None:
            for policy in self._learning:
                policy.served(ctx.request, decision.tier, response_text or "")

    def _logged_attempts(self, ctx: RequestContext) -> tuple[Attempt, ...]:
        """The attempts as logged: one that reached a masking endpoint (``Endpoint.masks``, see
        smallfirst.policy.redacting) carries the entity types and counts it masked."""
        attempts = tuple(ctx.attempts)
        if ctx.request is None or all(a.location == "local" for a in attempts):
            return attempts
        out: list[Attempt] = []
        masked: dict[tuple[str, str], tuple[tuple[str, int], ...] | None] = {}
        for a in attempts:
            key = (a.tier, a.endpoint)
            ep = self._by_endpoint.get(key)
            if ep is not None and ep.masks is not None and a.location != "local":
                if key not in masked:
                    masked[key] = ep.masks(ctx.request)
                if masked[key]:
                    a = replace(a, redacted=masked[key])
            out.append(a)
        return tuple(out)

    async def aclose(self) -> None:
        for t in self.tiers:
            for e in t.endpoints:
                await e.backend.aclose()

