"""The Prometheus exposition, parsed with prometheus_client's own text parser."""

from __future__ import annotations

import dataclasses

from prometheus_client.parser import text_string_to_metric_families

from smallfirst.core.types import Attempt, RequestRecord, Usage
from smallfirst.server.metrics import Metrics


def rec(tier: str | None, status: int = 200, **kw: object) -> RequestRecord:
    base = RequestRecord(
        request_id="r", ts=1000.0, requested_model="smallfirst/auto", tier=tier, model=f"m-{tier}" if tier else None,
        endpoint="e", status=status, error_code=None, reason="", escalations=(),
        attempts=(Attempt(tier, f"m-{tier}", "e", "ok", 1.0, 0.0, Usage(3, 4)),) if tier else (),
        prompt_tokens=3 if tier else 0, completion_tokens=4 if tier else 0, cost_usd=0.0, latency_ms=120.0,
        ttft_ms=None, stream=False)
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def samples(m: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for fam in text_string_to_metric_families(m.render().decode()):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def val(s: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return s.get((name, frozenset(labels.items())), 0.0)


def test_counts_tokens_cost_latency_and_ttft() -> None:
    m = Metrics(["local", "mid", "frontier"], {"local"}, {"local": 0.7, "mid": 0.2, "frontier": 0.1})
    for _ in range(3):
        m.observe(rec("local"))
    m.observe(rec("mid", cost_usd=0.25, ttft_ms=40.0, stream=True, latency_ms=900.0))
    m.observe(rec(None, status=404))
    s = samples(m)
    assert val(s, "smallfirst_requests_total", tier="local", model="m-local", status="200") == 3
    assert val(s, "smallfirst_requests_total", tier="none", model="", status="404") == 1
    assert val(s, "smallfirst_tokens_total", tier="local", model="m-local", kind="prompt") == 9
    assert val(s, "smallfirst_tokens_total", tier="mid", model="m-mid", kind="completion") == 4
    assert val(s, "smallfirst_cost_usd_total", tier="mid", model="m-mid") == 0.25
    assert val(s, "smallfirst_request_latency_seconds_count", tier="local") == 3
    assert val(s, "smallfirst_request_latency_seconds_bucket", tier="local", le="0.1") == 0
    assert val(s, "smallfirst_request_latency_seconds_bucket", tier="local", le="0.25") == 3
    assert val(s, "smallfirst_request_latency_seconds_sum", tier="mid") == 0.9
    assert val(s, "smallfirst_time_to_first_token_seconds_bucket", tier="mid", le="0.05") == 1
    assert val(s, "smallfirst_time_to_first_token_seconds_count", tier="local") == 0


def test_escalation_reasons_and_residency() -> None:
    m = Metrics(["local", "mid", "frontier"], {"local"}, {})
    m.observe(rec("frontier", escalations=("local->mid", "mid->frontier"), attempts=(
        Attempt("local", "a", "e", "context_length_exceeded"), Attempt("mid", "b", "e", "upstream_timeout"),
        Attempt("mid", "b2", "e2", "upstream_unavailable"), Attempt("frontier", "c", "e", "ok"))))
    m.observe(rec("local", sensitive=("pii", "secret")))
    m.observe(rec("mid", sensitive=("pii",)))
    m.observe(rec("local", sensitive=("phi",), attempts=(Attempt("mid", "b", "e", "upstream_timeout"),
                                                         Attempt("local", "a", "e", "ok"))))
    s = samples(m)
    assert val(s, "smallfirst_escalations_total", from_tier="local", to_tier="mid",
               reason="context_length_exceeded") == 1
    assert val(s, "smallfirst_escalations_total", from_tier="mid", to_tier="frontier",
               reason="upstream_unavailable") == 1
    assert val(s, "smallfirst_residency_decisions_total", data_class="pii", tier="local", left_host="false") == 1
    assert val(s, "smallfirst_residency_decisions_total", data_class="secret", tier="local", left_host="false") == 1
    assert val(s, "smallfirst_residency_decisions_total", data_class="pii", tier="mid", left_host="true") == 1
    # answered locally, but an earlier attempt reached a remote tier: that counts as leaving the host
    assert val(s, "smallfirst_residency_decisions_total", data_class="phi", tier="local", left_host="true") == 1


def test_realised_mix_over_a_sliding_window_against_the_target() -> None:
    m = Metrics(["local", "mid"], {"local"}, {"local": 0.8, "mid": 0.2}, window=10)
    s = samples(m)
    assert val(s, "smallfirst_tier_mix_ratio", tier="local") == 0.0
    assert val(s, "smallfirst_tier_mix_target_ratio", tier="local") == 0.8
    for _ in range(10):
        m.observe(rec("mid"))
    for _ in range(7):
        m.observe(rec("local"))
    m.observe(rec(None, status=400))  # not answered: not in the mix
    s = samples(m)
    assert val(s, "smallfirst_tier_mix_ratio", tier="local") == 0.7
    assert val(s, "smallfirst_tier_mix_ratio", tier="mid") == 0.3


def test_each_app_has_its_own_registry() -> None:
    a, b = Metrics(["local"], {"local"}, {}), Metrics(["local"], {"local"}, {})
    a.observe(rec("local"))
    assert val(samples(a), "smallfirst_requests_total", tier="local", model="m-local", status="200") == 1
    assert val(samples(b), "smallfirst_requests_total", tier="local", model="m-local", status="200") == 0


def test_sensitive_egress_is_counted_redacted_or_not() -> None:
    m = Metrics(["local", "mid"], {"local"}, {"local": 0.8, "mid": 0.2})
    masked = (("email", 1),)
    local_fail = Attempt("local", "m-local", "e", "upstream_timeout", 1.0, location="local")
    m.observe(rec("mid", sensitive=("pii",), attempts=(local_fail, Attempt("mid", "m-mid", "e", "ok", 1.0,
                                                                           location="eu", redacted=masked))))
    m.observe(rec("mid", sensitive=("pii", "financial"), attempts=(Attempt("mid", "m-mid", "e", "ok", 1.0,
                                                                           location="eu"),)))
    m.observe(rec("local", sensitive=("pii",), attempts=(Attempt("local", "m-local", "e", "ok", location="local"),)))
    m.observe(rec("mid", attempts=(Attempt("mid", "m-mid", "e", "ok", location="eu"),)))  # not sensitive
    s = samples(m)
    name = "smallfirst_residency_egress_total"
    assert val(s, name, data_class="pii", redacted="true") == 1
    assert val(s, name, data_class="pii", redacted="false") == 1
    assert val(s, name, data_class="financial", redacted="false") == 1
    assert sum(v for (n, _), v in s.items() if n == name) == 3  # staying local is not egress
    assert val(s, "smallfirst_residency_decisions_total", data_class="pii", tier="mid", left_host="true") == 2
