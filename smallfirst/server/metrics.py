"""Prometheus metrics for one gateway (its own CollectorRegistry), fed by the engine's record observer.

Counters and histograms are updated from each logged :class:`RequestRecord`, so the request path
is not touched; the realised-mix gauge is computed at scrape time over the last ``window`` served
requests.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from smallfirst.core.types import RequestRecord
from smallfirst.server.metric_tallies import Tallies
from smallfirst.store.rollup import EGRESS_REDACTED, EGRESS_UNREDACTED, egress_of, escalation_reasons

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
NONE = "none"


class Metrics:
    """Per-app metrics. Call :meth:`observe` with every logged record; :meth:`render` for a scrape."""

    def __init__(self, tiers: Sequence[str], local_tiers: Collection[str], target: Mapping[str, float],
                 *, window: int = 1000, corrections: Callable[[], Mapping[str, float]] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.tiers = list(tiers)
        self.local = frozenset(local_tiers)
        self.tallies = Tallies(LATENCY_BUCKETS_S)  # the series every request updates (plain dicts)
        r.register(self.tallies)
        self.escalations = Counter("smallfirst_escalations", "Escalation steps by reason (the outcome of the "
                                   "last attempt on the lower tier)", ["from_tier", "to_tier", "reason"],
                                   registry=r)
        self.residency = Counter("smallfirst_residency_decisions", "Sensitive requests by data class and the "
                                 "tier that answered; left_host is true when any attempt used a non-local tier",
                                 ["data_class", "tier", "left_host"], registry=r)
        self.egress = Counter("smallfirst_residency_egress", "Sensitive requests that left this host, by data "
                              "class and whether every attempt that left was masked (redacted true) or at least "
                              "one was sent as is (false); from each attempt's logged location",
                              ["data_class", "redacted"], registry=r)
        self.mix = Gauge("smallfirst_tier_mix_ratio", f"Share of the last {window} answered requests per tier",
                         ["tier"], registry=r)
        self.mix_target = Gauge("smallfirst_tier_mix_target_ratio", "Target share per tier", ["tier"], registry=r)
        for t in self.tiers:
            self.mix_target.labels(t).set(float(target.get(t, 0.0)))
            self.mix.labels(t).set(0.0)
        self._corrections = corrections  # the mix governor's, when one steers the router
        self.mix_correction = Gauge("smallfirst_mix_correction", "Mix governor's current correction per "
                                    "non-top tier (threshold offset, or share of picks moved; + = moved up)",
                                    ["tier"], registry=r) if corrections is not None else None
        self._window: deque[str] = deque(maxlen=window)
        self._counts: Tally[str] = Tally()
        self._children: dict[tuple[str, ...], Any] = {}  # labelled children, looked up once per label set

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (str(id(metric)), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, r: RequestRecord) -> None:
        tier = r.tier or NONE
        model = r.model or ""
        t = self.tallies
        key = (tier, model, str(r.status))
        t.requests[key] = t.requests.get(key, 0) + 1
        if r.prompt_tokens:
            k = (tier, model, "prompt")
            t.tokens[k] = t.tokens.get(k, 0) + r.prompt_tokens
        if r.completion_tokens:
            k = (tier, model, "completion")
            t.tokens[k] = t.tokens.get(k, 0) + r.completion_tokens
        if r.cost_usd:
            c = (tier, model)
            t.cost[c] = t.cost.get(c, 0.0) + r.cost_usd
        if r.local_cost_usd:
            c = (tier, model)
            t.local_cost[c] = t.local_cost.get(c, 0.0) + r.local_cost_usd
        if r.tier and r.status == 200:
            t.latency.observe(tier, r.latency_ms / 1000.0)
            if len(self._window) == self._window.maxlen:
                self._counts[self._window[0]] -= 1
            self._window.append(tier)
            self._counts[tier] += 1
        if r.ttft_ms is not None and r.tier:
            t.ttft.observe(tier, r.ttft_ms / 1000.0)
        if r.escalations:
            for step, reason in escalation_reasons(r):
                lower, _, upper = step.partition("->")
                self.escalations.labels(lower, upper, reason).inc()
        if r.sensitive:
            # each attempt's logged location (the same evidence `report residency` reads); tier locality
            # from config only for an attempt that carries none
            left = "true" if any((a.location or ("local" if a.tier in self.local else "remote")) != "local"
                                 for a in r.attempts) else "false"
            egress = egress_of(r) if left == "true" else None
            for cls in sorted(set(r.sensitive)):
                self.residency.labels(cls, tier, left).inc()
                if egress in (EGRESS_REDACTED, EGRESS_UNREDACTED):
                    self._child(self.egress, cls, "true" if egress == EGRESS_REDACTED else "false").inc()

    def render(self) -> bytes:
        n = len(self._window)
        for t in set(self.tiers) | set(self._counts):
            self.mix.labels(t).set(self._counts[t] / n if n else 0.0)
        if self._corrections is not None and self.mix_correction is not None:
            for t, v in self._corrections().items():
                self.mix_correction.labels(t).set(v)
        return generate_latest(self.registry)
