"""Residency evidence from the request log alone: where sensitive requests went, attempt by attempt.

Every attempt in the log carries the location of the endpoint it was sent to (``local``, a region
such as ``eu``, or ``remote``), written when the request was served, so the evidence does not depend
on today's configuration. A sensitive request *left this host* when any of its attempts — failed,
rejected by the cascade's check, a verifier or sample call, or the answer — went to a location other
than ``local``. Attempts logged before locations were recorded have none; requests with such
attempts are counted as ``unverified``, never as local.

An attempt sent masked (``residency.redaction``: the remote endpoint saw placeholders) is logged with
the entity types and counts it masked. A request that left the host is ``redacted`` when every attempt
that left was masked, else ``unredacted``; ``--check`` fails on unredacted egress (and unverified
requests), not on redacted egress, which only happens where the classes allow the location.

The evidence is only as good as the detector: it certifies the requests the detector *flagged*. Its
``basis`` says which entity types the configured detector covers, whether NER is on, and the recall
measured on the bundled evaluation set (or "not measured"); requests with no findings that left the host
are *counted* by tier (``unflagged``), never certified.

The log holds entity types and counts for sensitive requests, never their text, and so does this
report. It reads the log through the ``Store`` protocol in pages (``query(since, until, limit)``),
so memory stays flat over any range.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from smallfirst.config.schema import ResidencyConfig
from smallfirst.core.protocols import Store
from smallfirst.core.types import RequestRecord
from smallfirst.store.rollup import EGRESS_REDACTED, EGRESS_UNREDACTED, EGRESS_UNVERIFIED, egress_of

if TYPE_CHECKING:
    from smallfirst.sensitivity.evidence import EvalResults

LOCAL = "local"
UNKNOWN = "unknown"  # an attempt logged before attempt locations were recorded
POLICY_BLOCKED = "policy_blocked"
PAGE = 5000  # rows per store query
MAX_LISTED = 100  # requests that left the host, listed by id (the count is always exact)


def iter_log(store: Store, since: float, until: float, page: int = PAGE) -> Iterator[RequestRecord]:
    """Every logged request with ``since <= ts <= until`` in time order, one page at a time.

    Pages resume at the last timestamp seen; rows at that timestamp already yielded are skipped by
    request id, and a page made of one timestamp only is fetched again with twice the limit.
    """
    cursor, seen_at_cursor, limit = since, set[str](), page
    while True:
        rows = store.query(since=cursor, until=until, limit=limit)
        fresh = [r for r in rows if not (r.ts == cursor and r.request_id in seen_at_cursor)]
        yield from fresh
        if len(rows) < limit:
            return
        last = rows[-1].ts
        if last == cursor:  # the whole page sits on one timestamp: widen it
            seen_at_cursor.update(r.request_id for r in fresh)
            limit *= 2
            continue
        seen_at_cursor = {r.request_id for r in rows if r.ts == last}
        cursor, limit = last, page


def attempt_locations(r: RequestRecord) -> list[str]:
    return [a.location or UNKNOWN for a in r.attempts]


def _masked(r: RequestRecord) -> dict[str, int]:
    """Entity types and distinct values masked on the request's masked attempts (the most any one masked)."""
    out: dict[str, int] = {}
    for a in r.attempts:
        for entity, n in a.redacted or ():
            out[entity] = max(out.get(entity, 0), n)
    return out


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bump(d: dict[str, int], key: str, n: int = 1) -> None:
    d[key] = d.get(key, 0) + n


@dataclass
class _Class:
    requests: int = 0
    served: int = 0
    blocked: int = 0
    failed: int = 0
    left_host: int = 0
    left_redacted: int = 0
    tiers: dict[str, int] = field(default_factory=dict)
    locations: dict[str, int] = field(default_factory=dict)


@dataclass
class Evidence:
    """Accumulates the residency evidence over a stream of log rows; :meth:`result` gives the JSON."""

    since: float
    until: float
    requests: int = 0
    sensitive: int = 0
    left_host: int = 0
    left_redacted: int = 0  # left, every attempt that left masked
    left_unredacted: int = 0  # left, at least one attempt that left sent as is
    unverified: int = 0
    served: int = 0
    blocked: int = 0
    blocked_after_failure: int = 0  # blocked after the allowed (local) tiers were tried and failed
    failed: Counter[str] = field(default_factory=Counter)
    classes: dict[str, _Class] = field(default_factory=dict)
    entities: dict[str, list[int]] = field(default_factory=dict)  # entity -> [requests, occurrences]
    served_by: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (tier, endpoint, location)
    attempts_by_location: Counter[str] = field(default_factory=Counter)
    masked: Counter[str] = field(default_factory=Counter)  # entity -> distinct values masked, redacted requests
    left: list[dict[str, Any]] = field(default_factory=list)
    residency_blocked_other: int = 0  # non-sensitive requests the residency header / key kept from every tier
    unflagged_left: int = 0  # requests with no findings that left the host (counted, not certified)
    unflagged_unverified: int = 0
    unflagged_by_tier: Counter[tuple[str, str]] = field(default_factory=Counter)  # (tier, location) -> requests

    def add(self, r: RequestRecord) -> None:
        self.requests += 1
        if not r.sensitive:
            if r.error_code == POLICY_BLOCKED and "residency" in r.reason:
                self.residency_blocked_other += 1
            self._add_unflagged(r)
            return
        self.sensitive += 1
        locs = attempt_locations(r)
        self.attempts_by_location.update(locs)
        away = sorted({loc for loc in locs if loc not in (LOCAL, UNKNOWN)})
        egress = egress_of(r)
        redacted = egress == EGRESS_REDACTED
        if egress in (EGRESS_REDACTED, EGRESS_UNREDACTED):
            self.left_host += 1
            masked = _masked(r)
            if redacted:
                self.left_redacted += 1
                self.masked.update(masked)
            else:
                self.left_unredacted += 1
            if len(self.left) < MAX_LISTED:
                self.left.append({"request_id": r.request_id, "ts": r.ts, "time": _iso(r.ts),
                                  "classes": list(r.sensitive), "locations": away,
                                  "tiers": sorted({a.tier for a in r.attempts if a.location in away}),
                                  "redacted": redacted, "masked": dict(sorted(masked.items()))})
        elif egress == EGRESS_UNVERIFIED:
            self.unverified += 1
        answered = r.status == 200 and r.tier is not None
        answer_loc = self._answer_location(r) if answered else None
        if answered:
            self.served += 1
            self.served_by[(r.tier or "", r.endpoint or "", answer_loc or UNKNOWN)] += 1
        elif r.error_code == POLICY_BLOCKED:
            self.blocked += 1
            self.blocked_after_failure += 1 if r.attempts else 0
        else:
            self.failed[r.error_code or str(r.status)] += 1
        for cls in sorted(set(r.sensitive)):
            c = self.classes.setdefault(cls, _Class())
            c.requests += 1
            c.left_host += 1 if away else 0
            c.left_redacted += 1 if redacted else 0
            if answered:
                c.served += 1
                _bump(c.tiers, r.tier or "")
                _bump(c.locations, answer_loc or UNKNOWN)
            elif r.error_code == POLICY_BLOCKED:
                c.blocked += 1
            else:
                c.failed += 1
        for entity, n in r.sensitive_entities:
            e = self.entities.setdefault(entity, [0, 0])
            e[0] += 1
            e[1] += n

    def _add_unflagged(self, r: RequestRecord) -> None:
        egress = egress_of(r)
        if egress in (EGRESS_REDACTED, EGRESS_UNREDACTED):
            self.unflagged_left += 1
            self.unflagged_by_tier.update({(a.tier, a.location or UNKNOWN) for a in r.attempts
                                           if a.location not in (None, "", LOCAL)})
        elif egress == EGRESS_UNVERIFIED:
            self.unflagged_unverified += 1

    def unflagged_statement(self) -> str:
        n = self.requests - self.sensitive
        s = f"{self.unflagged_left:,} of {n:,} unflagged requests left this host"
        if self.unflagged_by_tier:
            s += " (" + ", ".join(f"{t} ({loc}) {k:,}" for (t, loc), k in self._unflagged_tiers()) + ")"
        return s + "; counted, not certified: the detector found nothing sensitive in them"

    def _unflagged_tiers(self) -> list[tuple[tuple[str, str], int]]:
        return sorted(self.unflagged_by_tier.items(), key=lambda kv: (-kv[1], kv[0]))

    @staticmethod
    def _answer_location(r: RequestRecord) -> str | None:
        """Location of the attempt that answered: the last attempt on the answering endpoint."""
        for a in reversed(r.attempts):
            if a.endpoint == r.endpoint and a.tier == r.tier:
                return a.location or UNKNOWN
        return None

    def statement(self) -> str:
        s = f"{self.left_host:,} of {self.sensitive:,} sensitive requests left this host"
        if self.left_redacted:
            s += f" ({self.left_redacted:,} redacted, {self.left_unredacted:,} unredacted)"
        if self.unverified:
            s += (f"; {self.unverified:,} more cannot be verified (logged before attempt locations were "
                  "recorded)")
        return s

    def result(self, residency: ResidencyConfig | None = None, measured: EvalResults | None = None
               ) -> dict[str, Any]:
        """The evidence JSON; ``basis`` describes the detector of ``residency`` (``None`` when not given)
        and ``measured`` its recall (``None``: not measured)."""
        from smallfirst.core.findings import data_class_of

        return {
            "range": {"since": _iso(self.since), "until": _iso(self.until), "since_ts": self.since,
                      "until_ts": self.until},
            "generated": _iso(datetime.now(UTC).timestamp()),
            "requests": self.requests,
            "sensitive_requests": self.sensitive,
            "left_host": self.left_host,
            "left_host_redacted": self.left_redacted,
            "left_host_unredacted": self.left_unredacted,
            "unverified": self.unverified,
            "statement": self.statement(),
            "outcomes": {"served": self.served, "blocked_by_policy": self.blocked,
                         "blocked_after_local_failure": self.blocked_after_failure,
                         "failed": dict(sorted(self.failed.items()))},
            "by_class": [{"class": k, "requests": c.requests, "served": c.served, "blocked_by_policy": c.blocked,
                          "failed": c.failed, "left_host": c.left_host, "left_host_redacted": c.left_redacted,
                          "tiers": dict(sorted(c.tiers.items())),
                          "locations": dict(sorted(c.locations.items()))}
                         for k, c in sorted(self.classes.items(), key=lambda kv: (-kv[1].requests, kv[0]))],
            "by_entity": [{"entity": e, "class": data_class_of(e), "requests": v[0], "occurrences": v[1]}
                          for e, v in sorted(self.entities.items(), key=lambda kv: (-kv[1][0], kv[0]))],
            "served_by": [{"tier": t, "endpoint": ep, "location": loc, "requests": n}
                          for (t, ep, loc), n in sorted(self.served_by.items(), key=lambda kv: (-kv[1], kv[0]))],
            "attempts_by_location": dict(sorted(self.attempts_by_location.items())),
            "redacted_entities": dict(sorted(self.masked.items())),
            "left_host_requests": self.left,
            "residency_blocked_non_sensitive": self.residency_blocked_other,
            "basis": None if residency is None else basis(residency, measured),
            "unflagged": {"requests": self.requests - self.sensitive, "left_host": self.unflagged_left,
                          "unverified": self.unflagged_unverified,
                          "by_tier": [{"tier": t, "location": loc, "requests": n}
                                      for (t, loc), n in self._unflagged_tiers()],
                          "statement": self.unflagged_statement()},
            "notes": [
                "the statement and --check cover the requests the detector flagged only (see basis: the entity "
                "types it covers and its measured recall); unflagged requests that left this host are counted "
                "by tier, not certified",
                "a request left this host when any attempt (failed, rejected by the cascade check, verifier or "
                "sample call, or the answer) went to an endpoint whose location is not local",
                "locations are those logged with each attempt, not today's configuration",
                "a request that left this host counts as redacted when every attempt that left was sent masked "
                "(residency.redaction); the log keeps the entity types and counts masked, never the values",
                "the log holds entity types and counts for sensitive requests, never their text",
            ],
        }


def basis(residency: ResidencyConfig, measured: EvalResults | None) -> dict[str, Any]:
    """What the detector behind the evidence can and cannot see, and its measured recall."""
    from smallfirst.sensitivity.evidence import coverage

    cov = coverage(residency)
    if not cov.enabled:
        scope = "detection is off (residency.enabled = false): no request is flagged, none is certified"
    else:
        ner = f", {len(cov.ner_entities)} by NER ({', '.join(cov.ner_entities)})" if cov.ner else "; NER off"
        scope = (f"certifies only what the detector flags: {len(cov.entities)} entity types by patterns and "
                 f"validators{ner}")
        if cov.not_detected:
            scope += f"; not detected: {', '.join(cov.not_detected)}"
    recall = measured.summary() if measured is not None else "recall: not measured"
    return {
        "detection": cov.enabled,
        "entities": list(cov.all_entities),
        "pattern_entities": list(cov.entities),
        "ner": cov.ner,
        "ner_entities": list(cov.ner_entities),
        "not_detected": list(cov.not_detected),
        "recall": None if measured is None else {
            "set": measured.set, "date": measured.date, "overall": measured.overall,
            "group_recall": dict(measured.group_recall),
            "type_recall": dict(measured.type_recall), "benign_flagged": dict(measured.benign_flagged)},
        "statement": f"{scope}; {recall}",
    }


def residency_evidence(store: Store, since: float, until: float, page: int = PAGE,
                       residency: ResidencyConfig | None = None, measured: EvalResults | None = None
                       ) -> dict[str, Any]:
    """The residency evidence JSON for ``since <= ts <= until`` (see the module docstring)."""
    ev = Evidence(since, until)
    for r in iter_log(store, since, until, page):
        ev.add(r)
    return ev.result(residency, measured)
