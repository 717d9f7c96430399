"""Prometheus view of the breakers and retries, read at scrape time (nothing on the request path)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from smallfirst.core.tiers import Tier
from smallfirst.resilience.backend import ResilientBackend
from smallfirst.resilience.breaker import STATE_VALUE


class ResilienceCollector(Collector):
    def __init__(self, tiers: Sequence[Tier]) -> None:
        self._backends = [(t.name, e.backend) for t in tiers for e in t.endpoints
                          if isinstance(e.backend, ResilientBackend)]

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        labels = ["tier", "endpoint"]
        state = GaugeMetricFamily("smallfirst_circuit_state", "Circuit breaker state per endpoint "
                                  "(0 closed, 1 half-open, 2 open)", labels=labels)
        opened = CounterMetricFamily("smallfirst_circuit_opened", "Times the endpoint's breaker opened",
                                     labels=labels)
        refused = CounterMetricFamily("smallfirst_circuit_refused", "Calls refused by an open breaker",
                                      labels=labels)
        retries = CounterMetricFamily("smallfirst_upstream_retries", "Same-endpoint retries after transient "
                                      "errors", labels=labels)
        for tier, b in self._backends:
            lv = [tier, b.name]
            state.add_metric(lv, STATE_VALUE[b.breaker.state])
            opened.add_metric(lv, b.breaker.opened_total)
            refused.add_metric(lv, b.breaker.refused_total)
            retries.add_metric(lv, b.retried_total)
        yield from (state, opened, refused, retries)


def register(registry: CollectorRegistry, tiers: Sequence[Tier]) -> None:
    registry.register(ResilienceCollector(tiers))
