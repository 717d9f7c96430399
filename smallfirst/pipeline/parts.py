"""The pipeline's parts other than endpoints: router, request log, residency, context window, cascade check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smallfirst.config.registry import router_factory, store_factory, store_name
from smallfirst.config.schema import Settings
from smallfirst.core.boundary import BoundaryCheck
from smallfirst.core.protocols import AnswerCheck, Router, Store
from smallfirst.core.tiers import Tier
from smallfirst.core.types import ChatRequest, Signals

if TYPE_CHECKING:
    from smallfirst.policy.residency import ResidencyPolicy

SignalFn = Callable[[ChatRequest], Signals]


def build_router(settings: Settings) -> Router:
    """The configured router; wrapped in the mix governor when a target mix applies (``routing.target_mix``,
    else a learned router's calibrated mix) and there is more than one tier."""
    router: Router = router_factory(settings.routing.router)(settings)
    rc = settings.routing
    target = rc.target_mix or getattr(router, "target_mix", None)
    if not target or len(settings.tiers) < 2 or rc.governor_window == 0:
        return router
    from smallfirst.routing.governed import GovernedRouter

    return GovernedRouter(router, settings.tier_names, target, window=rc.governor_window,
                          max_shift=rc.governor_max_shift, max_move=rc.governor_max_move)


def build_store(settings: Settings) -> Store:
    """The request log the registry names (``log.store``; default sqlite, or postgres with ``log.url``)."""
    return store_factory(store_name(settings))(settings)


@dataclass(frozen=True, slots=True)
class Residency:
    """Residency's parts: the signals function (with the cheap sensitivity pass), the fail-closed policy,
    the boundary screen before a call leaves the host, and whether endpoints off the host mask requests."""

    signals: SignalFn
    policy: ResidencyPolicy | None = None
    boundary: BoundaryCheck | None = None
    masks: bool = False


def build_residency(settings: Settings) -> Residency:
    """From ``[residency]`` and where each endpoint is (its URL host or declared location)."""
    from smallfirst.signals import extract

    rc = settings.residency
    if not rc.enabled:
        return Residency(extract)
    from smallfirst.policy.residency import ResidencyPolicy, locations_from_settings
    from smallfirst.sensitivity import Detector
    from smallfirst.sensitivity.signal import with_sensitivity

    detector = Detector.from_config(rc)
    locations = locations_from_settings(settings)
    policy = ResidencyPolicy(rc, locations, detector)
    boundary: BoundaryCheck | None = None
    if rc.boundary and not all(locs == {"local"} for locs in locations.values()):
        from smallfirst.policy.boundary import BoundaryGuard
        from smallfirst.sensitivity.boundary import BoundaryScreen

        # loaded once here (spaCy NER: about 2 s), and only when some endpoint is off this host
        boundary = BoundaryGuard(policy, BoundaryScreen.from_config(rc, detector))
    masks = rc.redaction or any(k.redaction for k in rc.keys.values())
    return Residency(with_sensitivity(extract, detector), policy, boundary, masks)


def build_checker(settings: Settings, tiers: list[Tier]) -> AnswerCheck | None:
    """The cascade's contract and tool-call check (None when both are off)."""
    if not settings.cascade.enabled and not settings.cascade.check_tool_calls:
        return None
    from smallfirst.cascade.checker import ContractCheck, local_tier_names

    return ContractCheck(settings.cascade, local_tier_names(tiers))
