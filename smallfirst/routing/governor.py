"""Mix governor: holds the realised tier mix near the target over a sliding window.

Each router decision is observed. For every non-top tier ``t`` the governor compares the realised
share of requests sent to tiers ``0..t`` (cumulative) with the target's, over the last ``window``
decisions, and nudges that tier's threshold offset by ``gain × error`` (integral control), clipped to
``± max_shift``: too many requests on the cheap tier → its threshold rises, too few → it falls. The
offsets are bounded, so a router can never be pushed far from its calibration, and they show in the
decision reason.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


class MixGovernor:
    def __init__(self, target_mix: Sequence[float], window: int = 500, max_shift: float = 0.15,
                 gain: float = 0.004, warmup: int = 50) -> None:
        if len(target_mix) < 2:
            raise ValueError("a mix governor needs at least two tiers")
        if window < 1:
            raise ValueError("window must be at least 1")
        self.target_cum = np.cumsum(np.asarray(target_mix, dtype=np.float64))[:-1]
        self.window = window
        self.max_shift = max_shift
        self.gain = gain
        self.warmup = min(warmup, window)
        self._recent: deque[int] = deque(maxlen=window)
        self._counts = np.zeros(len(target_mix), dtype=np.int64)
        self._offset = np.zeros(len(target_mix) - 1)

    @property
    def offsets(self) -> F64:
        """Current threshold offsets, one per non-top tier."""
        return self._offset.copy()

    def realised(self) -> F64:
        """Share of each tier over the window."""
        total = max(len(self._recent), 1)
        out: F64 = self._counts / total
        return out

    def observe(self, tier_index: int) -> None:
        """Record one decision (index in the router's tier list) and update the offsets."""
        if len(self._recent) == self.window:
            self._counts[self._recent[0]] -= 1
        self._recent.append(tier_index)
        self._counts[tier_index] += 1
        if len(self._recent) < self.warmup:
            return
        real_cum = np.cumsum(self.realised())[:-1]
        self._offset = np.clip(self._offset + self.gain * (real_cum - self.target_cum),
                               -self.max_shift, self.max_shift)

    def describe(self, tiers: Sequence[str]) -> str:
        """Short text for the decision reason, e.g. ``governor local+0.031``; "" when idle."""
        parts = [f"{t}{o:+.3f}" for t, o in zip(tiers[:-1], self._offset, strict=False) if abs(o) >= 0.0005]
        return f"governor {' '.join(parts)}" if parts else ""
