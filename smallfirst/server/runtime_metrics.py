"""Prometheus view of the local runtimes' state (smallfirst.runtime), read at scrape time from the last poll."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from smallfirst.runtime import RuntimeMonitor


class RuntimeCollector(Collector):
    def __init__(self, monitor: RuntimeMonitor) -> None:
        self._monitor = monitor

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["endpoint", "runtime"]
        up = GaugeMetricFamily("smallfirst_runtime_reachable", "The endpoint's runtime answered the last poll "
                               "(1) or not (0)", labels=labels)
        loaded = GaugeMetricFamily("smallfirst_runtime_model_loaded", "The endpoint's model is in memory (1), "
                                   "cold (0); absent when the runtime does not say", labels=labels)
        busy = GaugeMetricFamily("smallfirst_runtime_busy", "Requests the runtime is processing (busy slots, "
                                 "vLLM running)", labels=labels)
        queued = GaugeMetricFamily("smallfirst_runtime_queued", "Requests waiting in the runtime (vLLM waiting)",
                                   labels=labels)
        slots = GaugeMetricFamily("smallfirst_runtime_slots", "Parallel slots (llama.cpp server)", labels=labels)
        wait = GaugeMetricFamily("smallfirst_runtime_expected_wait_seconds", "Predicted wait before a request's "
                                 "own work (a cold model's load, the queue ahead)", labels=labels)
        load = GaugeMetricFamily("smallfirst_runtime_load_seconds", "Estimated (or learned) load time of the "
                                 "endpoint's model when cold", labels=labels)
        for name, rt in self._monitor.runtimes.items():
            s, key = rt.state, [name, rt.runtime]
            up.add_metric(key, 1.0 if s.reachable else 0.0)
            if s.loaded is not None:
                loaded.add_metric(key, 1.0 if s.loaded else 0.0)
            for fam, v in ((busy, s.busy), (queued, s.queued), (slots, s.slots)):
                if v is not None:
                    fam.add_metric(key, float(v))
            w = rt.expected_wait_ms()
            if s.reachable and w != float("inf"):
                wait.add_metric(key, w / 1000.0)
            load.add_metric(key, rt.estimated_load_ms() / 1000.0)
        yield from (up, loaded, busy, queued, slots, wait, load)


def register(registry: CollectorRegistry, monitor: RuntimeMonitor | None) -> None:
    if monitor is not None and monitor.runtimes:
        registry.register(RuntimeCollector(monitor))
