"""Mix governor: holds the *served* tier mix near the target.

It is told the tier that answered each routed request (after fallbacks and cascade escalations, from the
request log's rows), keeps a smoothed share per tier (an exponential moving average over about
``1/alpha`` requests; ``alpha = 0``: the plain share over the last ``window``), and for every non-top tier
``t`` compares the served share of tiers ``0..t`` (cumulative) with the target's. Each observation nudges
that boundary's correction by ``gain × error`` (integral control), clipped to ``± max_shift``: too many
requests answered cheaply → the correction rises, too few → it falls. What a correction does is up to the
router (:mod:`smallfirst.routing.governed`): a threshold offset for the learned router, a share of picks
moved one tier for the others. Bounded, so a router is never pushed far from what it decided.
:meth:`load_window` replaces the window with the served tiers read from a shared request log
(:mod:`smallfirst.routing.shared_mix`), so replicas steer on one mix.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


class MixGovernor:
    def __init__(self, target_mix: Sequence[float], window: int = 500, max_shift: float = 0.15,
                 gain: float = 0.004, warmup: int = 50, alpha: float = 0.0) -> None:
        if len(target_mix) < 2:
            raise ValueError("a mix governor needs at least two tiers")
        if window < 1:
            raise ValueError("window must be at least 1")
        if not 0.0 <= alpha < 1.0:
            raise ValueError("alpha must be in [0, 1)")
        self.target = np.asarray(target_mix, dtype=np.float64)
        self.target_cum = np.cumsum(self.target)[:-1]
        self.window = window
        self.max_shift = max_shift
        self.gain = gain
        self.alpha = alpha
        self.warmup = min(warmup, window)
        self._recent: deque[int] = deque(maxlen=window)
        self._counts = np.zeros(len(target_mix), dtype=np.int64)
        self._smooth: F64 | None = None
        self._offset = np.zeros(len(target_mix) - 1)
        self.observed = 0

    @property
    def offsets(self) -> F64:
        """Current corrections, one per non-top tier."""
        return self._offset.copy()

    def realised(self) -> F64:
        """Share of each tier over the window."""
        total = max(len(self._recent), 1)
        out: F64 = self._counts / total
        return out

    def observe(self, tier_index: int) -> None:
        """Record one served request (index in the tier list) and update the corrections."""
        if len(self._recent) == self.window:
            self._counts[self._recent[0]] -= 1
        self._recent.append(tier_index)
        self._counts[tier_index] += 1
        self.observed += 1
        if self.alpha > 0:
            x = np.zeros(len(self.target))
            x[tier_index] = 1.0
            self._smooth = x if self._smooth is None else self._smooth + self.alpha * (x - self._smooth)
        if self.observed < self.warmup:
            return
        share = self._smooth if self._smooth is not None else self.realised()
        real_cum = np.cumsum(share)[:-1]
        self._offset = np.clip(self._offset + self.gain * (real_cum - self.target_cum),
                               -self.max_shift, self.max_shift)

    def load_window(self, tier_indices: Sequence[int]) -> None:
        """Replace the window with ``tier_indices`` (oldest first): the served tiers of every process that
        logs to one shared store. The smoothed share is what it would be had this process observed them
        all; the corrections are not moved here (they move with each observation, on the shared share)."""
        recent = list(tier_indices)[-self.window:]
        self._recent = deque(recent, maxlen=self.window)
        self._counts = np.bincount(np.asarray(recent, dtype=np.int64), minlength=len(self.target)).astype(np.int64)
        if self.alpha > 0 and recent:
            x = np.zeros((len(recent), len(self.target)))
            x[np.arange(len(recent)), recent] = 1.0
            w = self.alpha * (1.0 - self.alpha) ** np.arange(len(recent) - 1, -1, -1, dtype=np.float64)
            w[0] = (1.0 - self.alpha) ** (len(recent) - 1)  # the first one seeds the average, as in observe
            self._smooth = w @ x
        self.observed = max(self.observed, len(recent))

    def describe(self, tiers: Sequence[str]) -> str:
        """Short text for the decision reason, e.g. ``governor local+0.031``; "" when idle."""
        parts = [f"{t}{o:+.3f}" for t, o in zip(tiers[:-1], self._offset, strict=False) if abs(o) >= 0.0005]
        return f"governor {' '.join(parts)}" if parts else ""
