"""Read-only views over the request log: the admin API's JSON, also used by ``smallfirst report``.

Inputs are the store's aggregate summary (``Store.summary``) and a :class:`View` of the configured
tiers (locality, target mix, the all-frontier baseline price). Pure functions, no I/O.
"""

from __future__ import annotations

import math
import re
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smallfirst.config.schema import Settings
from smallfirst.core.errors import BadRequestError
from smallfirst.core.types import Price, Usage
from smallfirst.store.rollup import (
    DIM_EGRESS,
    DIM_ERROR,
    DIM_ESCALATED,
    DIM_ESCALATION,
    DIM_LATENCY,
    DIM_LOCAL_COST,
    DIM_MODEL,
    DIM_SENSITIVE,
    DIM_SENSITIVE_REQ,
    DIM_STATUS,
    DIM_TASK,
    DIM_TTFT,
    EGRESS_KEYS,
    EGRESS_REDACTED,
    EGRESS_UNREDACTED,
    EGRESS_UNVERIFIED,
    bucket_mid,
)

REFERENCE_FRONTIER = "gpt-4.1"  # priced from the catalog when the top tier is local or has no price
DEFAULT_RANGE_S = 24 * 3600
# multiples of the rollup resolutions (60 s, 10 min, 1 h), so each series cell falls inside one bucket
BUCKETS = (60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
MAX_POINTS = 150
LOCAL_COST_NOTE = ("cost_usd is API spend; local_cost_usd is what answers cost on own hardware (amortised price + "
                   "energy, cost.local_basis); savings subtract both")
PERCENTILE_NOTE = "latency percentiles come from a log-spaced histogram: within ±4.4 % of the exact value"


@dataclass(frozen=True, slots=True)
class Baseline:
    model: str
    price: Price


@dataclass(frozen=True, slots=True)
class View:
    tiers: tuple[str, ...]
    local: frozenset[str]
    target: Mapping[str, float]
    baseline: Baseline | None
    # the figures that price each endpoint on own hardware: {"tier", "endpoint", **LocalRate.as_dict()}
    local_basis: tuple[Mapping[str, Any], ...] = ()


# ---- context from settings -------------------------------------------------------------------------


def default_target(names: Sequence[str]) -> dict[str, float]:
    """70/20/10 for three tiers; 80/20 for two; local 70 %, top 10 %, the middle sharing 20 % for more."""
    n = len(names)
    if n == 1:
        shares = [1.0]
    elif n == 2:
        shares = [0.8, 0.2]
    else:
        shares = [0.7, *([0.2 / (n - 2)] * (n - 2)), 0.1]
    return dict(zip(names, shares, strict=True))


def target_mix(settings: Settings) -> dict[str, float]:
    """``routing.target_mix``, else the calibrated target of a learned router's thresholds file, else
    :func:`default_target`."""
    rc = settings.routing
    if rc.target_mix:
        return {t: float(rc.target_mix.get(t, 0.0)) for t in settings.tier_names}
    if rc.router == "learned" and rc.artifact:
        from smallfirst.routing.learned import ThresholdsFile, thresholds_path_for

        path = Path(rc.thresholds) if rc.thresholds else thresholds_path_for(rc.artifact)
        if path.is_file():
            mix = ThresholdsFile.load(path).target_mix
            if mix:
                return {t: float(mix.get(t, 0.0)) for t in settings.tier_names}
    return default_target(settings.tier_names)


def baseline_for(settings: Settings, model: str | None = None) -> Baseline | None:
    """The all-frontier price: ``model`` from the catalog if given, else the top tier's first endpoint's
    price when it is a priced remote endpoint, else the catalog price of :data:`REFERENCE_FRONTIER`."""
    from smallfirst.catalog import price_for
    from smallfirst.pipeline import price_of

    if model is not None:
        price = price_for(model)
        if price is None:
            raise BadRequestError(f"no catalog price for baseline model {model!r}",
                                  hint="use a model `smallfirst catalog prices` lists", param="baseline")
        return Baseline(model, price)
    top = settings.tiers[-1].endpoints[0]
    if not top.is_local:
        price = price_of(top)
        if price is not None and (price.input_per_mtok or price.output_per_mtok):
            return Baseline(top.name or top.model or top.label, price)
    price = price_for(REFERENCE_FRONTIER)
    return Baseline(REFERENCE_FRONTIER, price) if price is not None else None


def view_from_settings(settings: Settings, baseline_model: str | None = None) -> View:
    from smallfirst.pipeline.local_cost import basis

    return View(settings.tier_names, frozenset(t.name for t in settings.tiers if t.is_local),
                target_mix(settings), baseline_for(settings, baseline_model), basis(settings))


# ---- time range ------------------------------------------------------------------------------------

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(text: str, *, now: float, param: str) -> float:
    """Epoch seconds, ISO 8601 (``2026-05-01`` or ``2026-05-01T12:00:00Z``), or a duration ago (``24h``)."""
    s = text.strip()
    m = _DURATION.match(s)
    if m:
        return now - float(m.group(1)) * _UNIT_S[m.group(2)]
    try:
        return float(s)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestError(f"{param}={text!r} is not a time", param=param,
                              hint="use epoch seconds, ISO 8601 (2026-05-01T12:00:00Z) or a duration ago "
                                   "(30m, 24h, 7d)") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def choose_bucket(span_s: float) -> int:
    """The smallest round bucket that keeps the series at or under :data:`MAX_POINTS` points."""
    for b in BUCKETS:
        if span_s / b <= MAX_POINTS:
            return b
    return math.ceil(span_s / MAX_POINTS / 86400) * 86400


def time_range(since: str | None, until: str | None, bucket: str | None,
               now: float | None = None) -> tuple[float, float, int]:
    now = time.time() if now is None else now
    end = parse_time(until, now=now, param="until") if until else now
    start = parse_time(since, now=end, param="since") if since else end - DEFAULT_RANGE_S
    if not end > start:
        raise BadRequestError("since must be before until", param="since")
    if bucket is None:
        return start, end, choose_bucket(end - start)
    try:
        b = int(bucket)
    except ValueError:
        raise BadRequestError(f"bucket={bucket!r} is not a whole number of seconds", param="bucket") from None
    if b < 60 or b % 60 or (end - start) / b > 5000:
        raise BadRequestError(f"bucket={b} must be a multiple of 60 giving at most 5000 points", param="bucket")
    return start, end, b


# ---- the overview ----------------------------------------------------------------------------------


def percentile(hist: Mapping[int, int], p: float) -> float | None:
    """Nearest-rank percentile of a histogram {bucket index: count}, as the bucket's midpoint (ms)."""
    total = sum(hist.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(p * total))
    seen = 0
    for idx in sorted(hist):
        seen += hist[idx]
        if seen >= rank:
            return round(bucket_mid(idx), 3)
    return None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cost(price: Price | None, prompt: int, completion: int) -> float | None:
    return price.cost(Usage(prompt, completion)) if price is not None else None


def _errors(cells: list[list[Any]]) -> list[dict[str, Any]]:
    """Failed requests by the tier and endpoint of their last attempt and by error code, commonest first
    (``tier`` and ``endpoint`` empty: refused before routing)."""
    counts: dict[str, int] = defaultdict(int)
    for _, _tier, key, n, *_ in cells:
        counts[key] += n
    out = []
    for key, n in counts.items():
        tier, endpoint, code = [*key.split("|", 2), "", ""][:3]
        out.append({"tier": tier, "endpoint": endpoint, "code": code, "count": n})
    return sorted(out, key=lambda d: (-d["count"], d["tier"], d["endpoint"], d["code"]))


def overview(summary: Mapping[str, Any], view: View) -> dict[str, Any]:
    """The admin summary JSON (documented in the README under "Admin API")."""
    facets: dict[str, list[list[Any]]] = defaultdict(list)
    for f in summary["facets"]:
        facets[f[0]].append(f)
    names = list(view.tiers) + sorted({f[1] for f in summary["facets"] if f[1] and f[1] not in view.tiers})
    price = view.baseline.price if view.baseline else None

    per_tier: dict[str, dict[str, Any]] = {n: {"requests": 0, "errors": 0, "cost_usd": 0.0, "local_cost_usd": 0.0,
                                               "prompt_tokens": 0, "completion_tokens": 0} for n in names}
    status: dict[int, int] = defaultdict(int)
    requests = served = errors = prompt = completion = 0
    cost = 0.0
    for _, tier, key, n, c, p, o, _lat in facets[DIM_STATUS]:
        code = int(key)
        status[code] += n
        requests, cost, prompt, completion = requests + n, cost + c, prompt + p, completion + o
        ok = code < 400 and bool(tier)
        served += n if ok else 0
        errors += 0 if ok else n
        if tier:
            t = per_tier[tier]
            t["requests" if ok else "errors"] += n
            t["cost_usd"] += c
            t["prompt_tokens"] += p
            t["completion_tokens"] += o
    local = 0.0  # own hardware + energy (the localcost cells), never part of cost (API spend); µUSD-sized: 12 places
    for _, tier, _key, _n, c, *_ in facets[DIM_LOCAL_COST]:
        local += c
        if tier:
            per_tier[tier]["local_cost_usd"] += c

    lat: dict[str, dict[int, int]] = defaultdict(dict)
    ttft: dict[str, dict[int, int]] = defaultdict(dict)
    for dim, store in ((DIM_LATENCY, lat), (DIM_TTFT, ttft)):
        for _, tier, key, n, *_ in facets[dim]:
            store[tier][int(key)] = n
    tiers_out = []
    for name in names:
        t = per_tier[name]
        tiers_out.append({
            "name": name, "local": name in view.local, **t, "cost_usd": round(t["cost_usd"], 8),
            "local_cost_usd": round(t["local_cost_usd"], 12),
            "share": round(t["requests"] / served, 6) if served else 0.0, "target": view.target.get(name, 0.0),
            "latency_p50_ms": percentile(lat[name], 0.50), "latency_p95_ms": percentile(lat[name], 0.95),
            "ttft_p50_ms": percentile(ttft[name], 0.50), "ttft_p95_ms": percentile(ttft[name], 0.95),
        })

    series: dict[int, dict[str, Any]] = {}
    for ts, tier, code, n, c, p, o in summary["series"]:
        pt = series.setdefault(ts, {"t": ts, "served": {nm: 0 for nm in names}, "errors": 0, "cost_usd": 0.0,
                                   "prompt_tokens": 0, "completion_tokens": 0})
        if code < 400 and tier:
            pt["served"][tier] = pt["served"].get(tier, 0) + n
        else:
            pt["errors"] += n
        pt["cost_usd"] += c
        pt["prompt_tokens"] += p
        pt["completion_tokens"] += o
    local_by_t = {int(ts): float(c) for ts, c in summary.get("local_series", ())}  # absent from plugin stores
    points = []
    for ts in sorted(series):
        pt = series.pop(ts)
        pt["cost_usd"] = round(pt["cost_usd"], 8)
        pt["local_cost_usd"] = round(local_by_t.get(ts, 0.0), 12)
        pt["baseline_cost_usd"] = _cost(price, pt.pop("prompt_tokens"), pt.pop("completion_tokens"))
        points.append(pt)

    baseline_cost = _cost(price, prompt, completion)
    steps: dict[str, int] = defaultdict(int)
    reasons: dict[tuple[str, str], int] = defaultdict(int)
    for _, _tier, key, n, *_ in facets[DIM_ESCALATION]:
        step, _, reason = key.partition("|")
        steps[step] += n
        reasons[(step, reason)] += n
    escalated = sum(f[3] for f in facets[DIM_ESCALATED])

    tasks: dict[str, dict[str, Any]] = {}
    for _, tier, key, n, c, *_ in facets[DIM_TASK]:
        task = tasks.setdefault(key, {"task_type": key, "count": 0, "cost_usd": 0.0, "by_tier": {}})
        task["count"] += n
        task["cost_usd"] = round(task["cost_usd"] + c, 8)
        if tier:
            task["by_tier"][tier] = task["by_tier"].get(tier, 0) + n
    top_tasks = sorted(tasks.values(), key=lambda d: (-d["count"], d["task_type"]))[:10]

    sensitive = sum(f[3] for f in facets[DIM_SENSITIVE_REQ])
    # where the data went, from the locations logged with each attempt (not today's tier config)
    egress = dict.fromkeys(EGRESS_KEYS, 0)
    for _, _tier, key, n, *_ in facets[DIM_EGRESS]:
        egress[key] = egress.get(key, 0) + n
    classes: dict[str, dict[str, Any]] = {}
    for _, tier, key, n, *_ in facets[DIM_SENSITIVE]:
        cl = classes.setdefault(key, {"class": key, "count": 0, "tiers": {}})
        cl["count"] += n
        cl["tiers"][tier or "refused"] = cl["tiers"].get(tier or "refused", 0) + n

    return {
        "range": {"since": _iso(summary["since"]), "until": _iso(summary["until"]), "since_ts": summary["since"],
                  "until_ts": summary["until"], "bucket_s": summary["bucket_s"]},
        "totals": {"requests": requests, "served": served, "errors": errors, "cost_usd": round(cost, 8),
                   "local_cost_usd": round(local, 12),
                   "prompt_tokens": prompt, "completion_tokens": completion, "escalated": escalated,
                   "escalation_rate": round(escalated / served, 6) if served else 0.0},
        "target_mix": dict(view.target),
        "mix": {t["name"]: t["share"] for t in tiers_out},
        "tiers": tiers_out,
        "series": points,
        "cost": {"actual_usd": round(cost, 8), "api_usd": round(cost, 8), "local_usd": round(local, 12),
                 "total_usd": round(cost + local, 8), "baseline_usd": baseline_cost,
                 # savings subtract both what the APIs billed and what the local answers cost on own hardware
                 "savings_usd": round(baseline_cost - cost - local, 8) if baseline_cost is not None else None,
                 "savings_pct": (round(100 * (baseline_cost - cost - local) / baseline_cost, 3) if baseline_cost
                                 else None),
                 "savings_ignoring_local_usd": round(baseline_cost - cost, 8) if baseline_cost is not None else None,
                 "local_basis": [dict(b) for b in view.local_basis],
                 "baseline": ({"model": view.baseline.model, "input_per_mtok": price.input_per_mtok,
                               "output_per_mtok": price.output_per_mtok, "source": price.source}
                              if view.baseline and price else None)},
        "escalations": {"steps": [{"step": s, "count": n} for s, n in sorted(steps.items(), key=lambda x: -x[1])],
                        "reasons": [{"step": s, "reason": r, "count": n}
                                    for (s, r), n in sorted(reasons.items(), key=lambda x: (-x[1], x[0]))]},
        "task_types": top_tasks,
        "status": [{"status": c, "count": n} for c, n in sorted(status.items())],
        "errors": _errors(facets[DIM_ERROR]),
        "models": sorted(({"tier": tier, "model": key, "count": n, "cost_usd": round(c, 8)}
                          for _, tier, key, n, c, *_ in facets[DIM_MODEL]), key=lambda d: -d["count"]),
        "residency": {"sensitive_requests": sensitive,
                      "left_host": egress[EGRESS_REDACTED] + egress[EGRESS_UNREDACTED],
                      "left_host_redacted": egress[EGRESS_REDACTED],
                      "left_host_unredacted": egress[EGRESS_UNREDACTED],
                      "unverified": egress[EGRESS_UNVERIFIED],
                      "by_class": sorted(classes.values(), key=lambda d: -d["count"])},
        "notes": [PERCENTILE_NOTE, "cost savings price every request's tokens at the baseline model",
                  LOCAL_COST_NOTE],
    }
