"""Helpers shared by the routers: mapping a desired tier onto the tiers a request may use."""

from __future__ import annotations

from collections.abc import Sequence


def level_to_index(level: int, n_levels: int, n_tiers: int) -> int:
    """Map a complexity level in ``0..n_levels-1`` onto a tier index in ``0..n_tiers-1`` (rounding down,
    so with two tiers the middle level stays on the cheaper one: small first)."""
    if n_tiers <= 1 or n_levels <= 1:
        return 0
    return min(n_tiers - 1, (level * (n_tiers - 1)) // (n_levels - 1))


def pick_allowed(desired: str, configured: Sequence[str], allowed: Sequence[str]) -> tuple[str, str]:
    """The cheapest allowed tier at or above ``desired`` (in configured order), else the dearest allowed
    one below it. Returns (tier, note) where note explains a substitution ("" if none)."""
    if not allowed:
        raise ValueError("no tier is allowed for this request")
    if desired in allowed:
        return desired, ""
    order = {t: i for i, t in enumerate(configured)}
    if desired not in order or any(t not in order for t in allowed):
        return allowed[-1], f" ({desired} not allowed)"
    want = order[desired]
    above = [t for t in allowed if order[t] >= want]
    pick = above[0] if above else allowed[-1]
    return pick, f" ({desired} not allowed)"
