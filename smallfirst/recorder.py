"""The request log's writer: one :class:`~smallfirst.core.types.RequestRecord` per request, built from its
:class:`~smallfirst.request.RequestContext` and what it ended with, then told to the observers (metrics,
the access layer's settlement, the mix governor) and to policies that learn from what was served.

Text is kept only with ``log.store_prompts`` and never for a sensitive request; the prompt's text is
read from the planned request when the handler did not give one. An attempt that reached a masking
endpoint (``Endpoint.masks``, see smallfirst.policy.redacting) carries the entity types and counts it
masked — never the text.

An attempt on an endpoint priced as own hardware (``Endpoint.local_rate``, smallfirst.core.local_cost)
carries its local cost, summed into the row's ``local_cost_usd``; ``cost_usd`` stays API spend only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from smallfirst.core.errors import SmallfirstError
from smallfirst.core.protocols import Policy, Store
from smallfirst.core.tiers import Endpoint
from smallfirst.core.types import Attempt, Decision, RequestRecord, Usage
from smallfirst.request import RequestContext

Observer = Callable[[RequestRecord], None]


class Recorder:
    def __init__(self, store: Store, *, observers: Sequence[Observer], policies: Sequence[Policy],
                 store_prompts: bool, endpoints: Mapping[tuple[str, str], Endpoint]) -> None:
        self.store = store
        self.observers = list(observers)
        self.learning = [p for p in policies if type(p).served is not Policy.served]  # told what was served
        self.store_prompts = store_prompts
        self._endpoints = endpoints
        # endpoints priced as own hardware (smallfirst.core.local_cost): their attempts carry a local cost
        self._local = {k: ep.local_rate for k, ep in endpoints.items() if ep.local_rate is not None}

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
        prompt = None
        if keep_text:
            prompt = ctx.prompt_text if ctx.prompt_text is not None else (
                ctx.request.text() if ctx.request is not None else None)
        u = usage or Usage()
        attempts = self.logged_attempts(ctx)
        local = 0.0
        if self._local and attempts:
            attempts, local = self.priced(attempts)
        row = RequestRecord(
            request_id=ctx.request_id, ts=ctx.ts, requested_model=ctx.requested_model,
            tier=decision.tier if decision else None, model=decision.model if decision else None,
            endpoint=decision.endpoint if decision else None, status=status,
            error_code=error.code if error else None, reason=ctx.reason or (error.message if error else ""),
            escalations=tuple(ctx.escalations), attempts=attempts, prompt_tokens=u.prompt_tokens,
            completion_tokens=u.completion_tokens, cost_usd=sum(a.cost_usd for a in ctx.attempts),
            latency_ms=ctx.elapsed_ms(), ttft_ms=ctx.ttft_ms, stream=ctx.stream,
            task_type=sig.task_type if sig else None, sensitive=tuple(sensitive), sensitive_entities=found,
            prompt_text=prompt, response_text=response_text if keep_text else None, api_key_id=ctx.api_key_id,
            local_cost_usd=local,
        )
        self.store.record(row)
        for observe in self.observers:
            observe(row)
        if status == 200 and decision is not None and ctx.request is not None:
            for policy in self.learning:
                policy.served(ctx.request, decision.tier, response_text or "")

    def priced(self, attempts: tuple[Attempt, ...]) -> tuple[tuple[Attempt, ...], float]:
        """Attempts on endpoints priced as own hardware with their local cost, and its sum (API spend,
        ``cost_usd``, is left as it is)."""
        rates = self._local
        out: list[Attempt] = []
        total = 0.0
        for a in attempts:
            rate = rates.get((a.tier, a.endpoint))
            if rate is not None:
                c = rate.cost(a.usage, a.latency_ms)
                if c:
                    a = replace(a, local_cost_usd=c)
                    total += c
            out.append(a)
        return tuple(out), total

    def logged_attempts(self, ctx: RequestContext) -> tuple[Attempt, ...]:
        """The attempts as logged, masked ones with what was masked (types and counts)."""
        attempts = tuple(ctx.attempts)
        if ctx.request is None or all(a.location == "local" for a in attempts):
            return attempts
        out: list[Attempt] = []
        masked: dict[tuple[str, str], tuple[tuple[str, int], ...] | None] = {}
        for a in attempts:
            key = (a.tier, a.endpoint)
            ep = self._endpoints.get(key)
            if ep is not None and ep.masks is not None and a.location != "local":
                if key not in masked:
                    masked[key] = ep.masks(ctx.request)
                if masked[key]:
                    a = replace(a, redacted=masked[key])
            out.append(a)
        return tuple(out)
