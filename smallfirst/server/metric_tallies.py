"""The per-request counters and histograms of ``/metrics``, kept as plain dicts and exposed at scrape time.

A prometheus_client ``Counter``/``Histogram`` child takes a lock and walks its buckets on every update;
for the four series every answered request touches that cost several microseconds per request. Here an
update is a dict increment (and one ``bisect`` for a latency), and :meth:`Tallies.collect` — a custom
collector, the client library's documented extension point — turns the totals into the same families
(``smallfirst_requests_total``, ``smallfirst_tokens_total``, ``smallfirst_cost_usd_total``,
``smallfirst_request_latency_seconds``, ``smallfirst_time_to_first_token_seconds``) when scraped.
Everything runs on the event loop, so no lock is needed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector


class Buckets:
    """One labelled histogram: per label value, the count in each bucket (``le`` inclusive) and the sum."""

    def __init__(self, name: str, doc: str, label: str, bounds: Sequence[float]) -> None:
        self.name, self.doc, self.label = name, doc, label
        self.bounds = tuple(bounds)
        self.counts: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}

    def observe(self, key: str, value: float) -> None:
        counts = self.counts.get(key)
        if counts is None:
            counts = self.counts[key] = [0] * (len(self.bounds) + 1)
            self.sums[key] = 0.0
        counts[bisect_left(self.bounds, value)] += 1
        self.sums[key] += value

    def family(self) -> HistogramMetricFamily:
        fam = HistogramMetricFamily(self.name, self.doc, labels=[self.label])
        for key, counts in self.counts.items():
            acc, buckets = 0, []
            for bound, n in zip((*map(_le, self.bounds), "+Inf"), counts, strict=True):
                acc += n
                buckets.append((bound, float(acc)))
            fam.add_metric([key], buckets, self.sums[key])
        return fam


def _le(bound: float) -> str:
    return repr(float(bound))


class Tallies(Collector):
    """Requests, tokens, cost and the two latency histograms, by label tuple."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self.requests: dict[tuple[str, str, str], int] = {}
        self.tokens: dict[tuple[str, str, str], int] = {}
        self.cost: dict[tuple[str, str], float] = {}
        self.local_cost: dict[tuple[str, str], float] = {}  # own hardware + energy (smallfirst.core.local_cost)
        self.latency = Buckets("smallfirst_request_latency_seconds", "End-to-end latency of answered requests",
                               "tier", buckets)
        self.ttft = Buckets("smallfirst_time_to_first_token_seconds", "Time to first token of streams", "tier",
                            buckets)

    def collect(self) -> Iterator[Metric]:
        req = CounterMetricFamily("smallfirst_requests", "Requests by answering tier, model and HTTP status "
                                  "(tier 'none': no tier answered)", labels=["tier", "model", "status"])
        for k, n in self.requests.items():
            req.add_metric(list(k), n)
        yield req
        yield self.latency.family()
        yield self.ttft.family()
        tok = CounterMetricFamily("smallfirst_tokens", "Tokens by tier, model and kind (prompt, completion)",
                                  labels=["tier", "model", "kind"])
        for k, n in self.tokens.items():
            tok.add_metric(list(k), n)
        yield tok
        cost = CounterMetricFamily("smallfirst_cost_usd", "API cost in USD (all attempts)", labels=["tier", "model"])
        for c, usd in self.cost.items():
            cost.add_metric(list(c), usd)
        yield cost
        local = CounterMetricFamily("smallfirst_local_cost_usd", "Cost in USD of work on own hardware (amortised "
                                    "price + energy, [costs.local]; not in smallfirst_cost_usd)",
                                    labels=["tier", "model"])
        for c, usd in self.local_cost.items():
            local.add_metric(list(c), usd)
        yield local
