"""Shadow runs (``[routing] shadow_share``): a share of the requests the lowest tier served is also sent,
after the answer was returned, to the next tier, so that both tiers' answers on one prompt exist for
``smallfirst router train --from-log``.

Never for a sensitive request (the cheap pass at planning, then the thorough boundary screen before the
call leaves the host), never to a tier the request's plan did not allow (residency, the key's tiers and
budget, capabilities: the policies before this one), never for a pinned model. The shadow answer is not
shown to anyone: it is one row of the request log (``requested_model = "smallfirst/shadow"``) with two
attempts — the lowest tier's, outcome ``shadowed`` (its answer was served, already counted in its own
row, cost 0 here), and the next tier's, outcome ``shadow_agree`` when the two answers are the same text
(case and spacing aside) or ``shadow_differ`` — carrying that call's tokens and cost. The cost is the
operator's (real, counted in the log, the dashboard and ``report``; not charged to the API key), about
``shadow_share`` × the share served by the lowest tier × the next tier's price per answer.

A policy only to see each request's plan (``check`` allows every tier) and what was served (``served``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace

from smallfirst.core.boundary import BoundaryCheck
from smallfirst.core.protocols import Policy, Store
from smallfirst.core.tiers import Tier
from smallfirst.core.types import AUTO_MODEL, Attempt, ChatRequest, PolicyResult, RequestRecord, Signals

log = logging.getLogger("smallfirst.shadow")
SHADOW_MODEL = "smallfirst/shadow"
_PENDING_MAX = 1024  # requests drawn for a shadow run whose answer has not been recorded yet


def _same(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


class ShadowPolicy(Policy):
    def __init__(self, tiers: Sequence[Tier], store: Store, *, share: float, store_prompts: bool,
                 boundary: BoundaryCheck | None = None, draw: Callable[[], float] | None = None) -> None:
        self.lowest = tiers[0]
        self.upper = tiers[1] if len(tiers) > 1 else None
        self.store = store
        self.share = share
        self.store_prompts = store_prompts
        self.boundary = boundary
        self._draw = draw or random.Random().random
        self._pending: OrderedDict[str, Signals] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def check(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> PolicyResult:
        up = self.upper
        if (up is not None and request.model == AUTO_MODEL and not signals.sensitive_classes
                and self.lowest.name in tiers and up.name in tiers and self._draw() < self.share):
            self._pending[request.text()] = signals
            while len(self._pending) > _PENDING_MAX:
                self._pending.popitem(last=False)
        return PolicyResult(allowed=tuple(tiers))

    def served(self, request: ChatRequest, tier: str, answer: str) -> None:
        sig = self._pending.pop(request.text(), None)
        if sig is None or tier != self.lowest.name or self.upper is None:
            return
        task = asyncio.get_running_loop().create_task(self._run(request, sig, answer))
        self._tasks.add(task)  # kept until done (the loop holds tasks weakly)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, request: ChatRequest, sig: Signals, answer: str) -> None:
        assert self.upper is not None
        ep = self.upper.endpoints[0]
        if ep.location != "local" and self.boundary is not None:
            try:
                found = await self.boundary.check(request, sig, ep.location)
            except Exception:  # held at the boundary: it may not leave the host
                return
            if found is not None and found.sensitive_classes:
                return
        t0 = time.monotonic()
        body = {k: v for k, v in request.body.items() if k != "stream"}
        try:
            resp = await ep.backend.complete(replace(request, stream=False, body=body))
        except Exception as err:  # a shadow run never surfaces; the log says it failed
            log.warning("shadow run to %s failed: %s", self.upper.name, err)
            return
        ms = (time.monotonic() - t0) * 1000
        text = resp.content
        low = self.lowest.endpoints[0]
        attempts = (Attempt(self.lowest.name, low.backend.model, low.backend.name, "shadowed", location=low.location),
                    Attempt(self.upper.name, ep.backend.model, ep.backend.name,
                            "shadow_agree" if _same(text, answer) else "shadow_differ", ms, ep.cost(resp.usage),
                            resp.usage, ep.location))
        keep = self.store_prompts
        self.store.record(RequestRecord(
            request_id=f"shadow-{secrets.token_hex(8)}", ts=time.time(), requested_model=SHADOW_MODEL,
            tier=self.upper.name, model=ep.backend.model, endpoint=ep.backend.name, status=200, error_code=None,
            reason=f"shadow: {self.lowest.name} served; {self.upper.name} asked too, for training", escalations=(),
            attempts=attempts, prompt_tokens=resp.usage.prompt_tokens, completion_tokens=resp.usage.completion_tokens,
            cost_usd=attempts[1].cost_usd, latency_ms=ms, ttft_ms=None, stream=False, task_type=sig.task_type,
            prompt_text=request.text() if keep else None, response_text=text if keep else None))
