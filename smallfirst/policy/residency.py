"""Residency: sensitive data goes only to tiers whose location its data class allows. Fail closed.

Each tier has a set of locations (one per endpoint: ``local``, or a region such as ``eu`` / ``us``;
a remote endpoint that declares none is ``remote``). ``[residency.classes]`` maps each data class to
the locations it may go to (default: ``local`` only for pii, phi, secret, financial). A request may
use a tier only if every endpoint of the tier is in the allowed set of every data class it contains.

Tightening only — nothing a client sends can loosen the configuration:

* header ``x-smallfirst-residency: local`` forces local tiers for any request (``eu`` or
  ``local,eu`` allows those regions as well as local; ``auto`` = no forcing);
* ``[residency.keys.<id>]`` overrides classes or forces local for one API key id.

The server puts the request headers (lower-case names) in ``request.headers`` and the caller's
gateway key id in ``request.api_key_id`` — never anything from the client's body. When the result
allows no tier the engine raises
``PolicyBlockedError`` (503); ``pin_local=True`` tells it no fallback may widen the allowed set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from smallfirst.config.location import canonical, resolve_location
from smallfirst.config.schema import ResidencyConfig, ResidencyKeyConfig, Settings
from smallfirst.core.errors import BadRequestError
from smallfirst.core.protocols import Policy
from smallfirst.core.tiers import Tier
from smallfirst.core.types import ChatRequest, PolicyResult, Signals
from smallfirst.sensitivity import NO_FINDINGS, Detector, Findings, RedactionMap

RESIDENCY_HEADER = "x-smallfirst-residency"
LOCAL = "local"
REMOTE = "remote"  # a remote endpoint that declares no location
ANYWHERE = "*"
_LOCATION = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def endpoint_location(location: str | None, is_local: bool) -> str:
    """A runtime endpoint's location (``build_tiers`` resolved it; ``host`` is spelled ``local``)."""
    return canonical(location) or (LOCAL if is_local else REMOTE)


def locations_from_settings(settings: Settings) -> dict[str, frozenset[str]]:
    """Each tier's locations, from each endpoint's URL host or declared location (never its backend name)."""
    return {t.name: frozenset(resolve_location(e).location for e in t.endpoints) for t in settings.tiers}


def locations_from_tiers(tiers: Sequence[Tier]) -> dict[str, frozenset[str]]:
    return {t.name: frozenset(endpoint_location(e.location, e.is_local) for e in t.endpoints) for t in tiers}


def header_locations(request: ChatRequest) -> frozenset[str] | None:
    """Locations forced by the ``x-smallfirst-residency`` header (always including local), or None."""
    value = request.headers.get(RESIDENCY_HEADER)
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("", "auto"):
        return None
    locs = {p.strip() for p in text.split(",")}
    if not all(_LOCATION.fullmatch(p) for p in locs):
        raise BadRequestError(
            f"header {RESIDENCY_HEADER} must be 'local', 'auto', or location names such as 'eu' "
            f"(comma-separated); got {str(value)[:40]!r}", param=RESIDENCY_HEADER,
            hint=f"send '{RESIDENCY_HEADER}: local' to keep this request on this host")
    return frozenset(locs | {LOCAL})


class ResidencyPolicy(Policy):
    """Fail-closed residency. Reads the request's ``Findings`` from ``signals.sensitivity``,
    or detects them itself when the signals carry none."""

    def __init__(self, config: ResidencyConfig, tier_locations: Mapping[str, Iterable[str]],
                 detector: Detector | None = None) -> None:
        self.config = config
        self.tier_locations = {name: frozenset(locs) for name, locs in tier_locations.items()}
        if detector is None and config.enabled:
            detector = Detector.from_config(config)
        self.detector = detector

    @classmethod
    def from_settings(cls, settings: Settings, detector: Detector | None = None) -> ResidencyPolicy:
        return cls(settings.residency, locations_from_settings(settings), detector)

    @classmethod
    def from_tiers(cls, config: ResidencyConfig, tiers: Sequence[Tier],
                   detector: Detector | None = None) -> ResidencyPolicy:
        return cls(config, locations_from_tiers(tiers), detector)

    # ---- inputs ----------------------------------------------------------------------------------

    def _key(self, request: ChatRequest) -> ResidencyKeyConfig | None:
        key_id = request.api_key_id
        return self.config.keys.get(key_id) if key_id is not None else None

    def findings(self, request: ChatRequest, signals: Signals) -> Findings:
        """The request's findings: from the signals when present, else detected now."""
        if signals.sensitivity is not None:
            return signals.sensitivity
        if self.detector is not None:
            return self.detector.detect(request)
        return NO_FINDINGS

    def is_local(self, tier: str) -> bool:
        return self.tier_locations.get(tier, frozenset({REMOTE})) == {LOCAL}

    # ---- decision --------------------------------------------------------------------------------

    def allowed_locations(self, request: ChatRequest, signals: Signals,
                          findings: Findings | None = None) -> tuple[frozenset[str] | None, list[str]]:
        """``(locations, why)``: the locations this request may go to (None = anywhere)."""
        findings = findings if findings is not None else self.findings(request, signals)
        key = self._key(request)
        allowed: frozenset[str] | None = None
        why: list[str] = []
        present = sorted(set(findings.data_classes) | set(signals.sensitive_classes))
        classes = {**self.config.classes, **(key.classes if key else {})} if present else {}
        by_class = findings.by_class() if present else {}
        for cls in present:
            locs = frozenset(classes.get(cls, [ANYWHERE]))
            if ANYWHERE in locs:
                continue
            allowed = locs if allowed is None else allowed & locs
            detail = ", ".join(f"{e}×{n}" for e, n in sorted(by_class.get(cls, {}).items()))
            why.append(f"{cls} ({detail})" if detail else cls)
        if key is not None and key.force_local:
            allowed = frozenset({LOCAL}) if allowed is None else allowed & {LOCAL}
            why.append("API key requires local")
        forced = header_locations(request)
        if forced is not None:
            allowed = forced if allowed is None else allowed & forced
            why.append(f"{RESIDENCY_HEADER}: {','.join(sorted(forced))}")
        return allowed, why

    def check(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> PolicyResult:
        allowed_locs, why = self.allowed_locations(request, signals)
        if allowed_locs is None:
            return PolicyResult(allowed=tuple(tiers))
        keep = tuple(t for t in tiers if self.tier_locations.get(t, frozenset({REMOTE})) <= allowed_locs)
        removed = [f"{t} ({','.join(sorted(self.tier_locations.get(t, {REMOTE})))})" for t in tiers if t not in keep]
        where = ", ".join(sorted(allowed_locs)) or "nowhere"
        reason = f"residency: {'; '.join(why)} → only {where}"
        if removed:
            reason += f"; removed {', '.join(removed)}"
        if not keep:
            reason += "; no tier allowed (fail closed)"
        return PolicyResult(allowed=keep, reasons=(reason,), pin_local=True)

    # ---- redaction (optional, off by default) ----------------------------------------------------

    def redaction_on(self, request: ChatRequest) -> bool:
        key = self._key(request)
        if key is not None and key.redaction is not None:
            return key.redaction
        return self.config.redaction

    def outbound(self, request: ChatRequest, tier: str) -> tuple[ChatRequest, RedactionMap | None]:
        """The request as it may be sent to ``tier``: masked when redaction is on and the tier is not
        local (returns the mapping to restore the answer with), else unchanged with ``None``."""
        if self.detector is None or self.is_local(tier) or not self.redaction_on(request):
            return request, None
        masked, mapping = self.detector.redact_request(request)
        return (masked, mapping) if mapping else (request, None)
