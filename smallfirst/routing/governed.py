"""Any router, steered toward a target mix of *served* requests (``[routing] target_mix``).

:class:`GovernedRouter` wraps the configured router. It observes every logged request routed with
``smallfirst/auto`` (an engine observer: the tier that answered, after fallbacks and escalations) and
feeds a :class:`~smallfirst.routing.governor.MixGovernor`. The corrections act per router:

* a router steered by thresholds (the learned router) gets them as threshold offsets, at most
  ``routing.governor_max_shift``;
* any other router (rules, random, plugins) keeps its pick, except that a bounded share of picks is moved
  one tier: up while the cheap tiers answer more than their target, down while they answer less, at most
  ``routing.governor_max_move`` of a tier's picks, spread evenly (error diffusion, not coin flips).

The move happens among the tiers the request may use — residency, capabilities and the API key are
applied before the router, so they always win over the mix. The window of served tiers is per process,
or read from the shared request log when replicas share it (:mod:`smallfirst.routing.shared_mix`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from smallfirst.core.protocols import Router
from smallfirst.core.types import AUTO_MODEL, ChatRequest, RequestRecord, RouteChoice, Signals
from smallfirst.routing.governor import MixGovernor
from smallfirst.routing.shared_mix import SharedWindow

THRESHOLD_GAIN = 0.004
MOVE_GAIN = 0.01
SMOOTHING = 0.02  # EWMA weight of one request: the served share over about 50 requests


class GovernedRouter(Router):
    def __init__(self, inner: Router, tiers: Sequence[str], target: Mapping[str, float], *, window: int = 500,
                 max_shift: float = 0.15, max_move: float = 0.3) -> None:
        self.inner = inner
        self.tiers = list(tiers)
        self.target = {t: float(target.get(t, 0.0)) for t in self.tiers}
        self._index = {t: i for i, t in enumerate(self.tiers)}
        self.thresholds = bool(getattr(inner, "steered_by_thresholds", False))
        self.governor = MixGovernor([self.target[t] for t in self.tiers], window=window,
                                    max_shift=max_shift if self.thresholds else max_move,
                                    gain=THRESHOLD_GAIN if self.thresholds else MOVE_GAIN, alpha=SMOOTHING)
        self._credit = [0.0] * len(self.tiers)  # error diffusion: moves owed, per tier
        self.shared: SharedWindow | None = None  # the window read from a shared log (replicas)

    def share(self, window: SharedWindow) -> None:
        """Steer on the served tiers of every process logging to one store (smallfirst/routing/shared_mix.py)."""
        self.shared = window

    def _sync(self) -> None:
        if self.shared is None:
            return
        got = self.shared.poll()
        if got is not None:
            self.governor.load_window([self._index[t] for t in got if t in self._index])

    def choose(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> RouteChoice:
        self._sync()
        offsets = [float(o) for o in self.governor.offsets]
        if self.thresholds:
            by_tier = dict(zip(self.tiers[:-1], offsets, strict=True))
            choice: RouteChoice = self.inner.choose(request, signals, tiers, offsets=by_tier)  # type: ignore[call-arg]
        else:
            choice = self._move(self.inner.choose(request, signals, tiers), tiers, offsets)
        g = self.governor.describe(self.tiers)
        return RouteChoice(choice.tier, f"{choice.reason}; {g}", choice.scores) if g else choice

    def _move(self, choice: RouteChoice, tiers: Sequence[str], offsets: Sequence[float]) -> RouteChoice:
        i = self._index.get(choice.tier)
        if i is None or choice.tier not in tiers:
            return choice
        at = list(tiers).index(choice.tier)
        if i < len(offsets) and offsets[i] > 0 and at + 1 < len(tiers):  # too many answered at or below i
            target, share = tiers[at + 1], float(offsets[i])
        elif i > 0 and offsets[i - 1] < 0 and at > 0:  # too few answered below i
            target, share = tiers[at - 1], float(-offsets[i - 1])
        else:
            return choice
        self._credit[i] += share
        if self._credit[i] < 1.0:
            return choice
        self._credit[i] -= 1.0
        return RouteChoice(target, f"{choice.reason}; mix: moved {choice.tier} -> {target}", choice.scores)

    def observe(self, row: RequestRecord) -> None:
        """Engine observer: count the tier that served a routed request."""
        if row.status == 200 and row.requested_model == AUTO_MODEL and row.tier in self._index:
            self.governor.observe(self._index[row.tier])
            self._sync()

    def served_share(self) -> dict[str, float]:
        return dict(zip(self.tiers, (float(v) for v in self.governor.realised()), strict=True))

    def corrections(self) -> dict[str, float]:
        return dict(zip(self.tiers[:-1], (float(v) for v in self.governor.offsets), strict=True))
