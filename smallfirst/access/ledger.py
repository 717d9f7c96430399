"""Shared budgets and rate limits: atomic reservations in PostgreSQL (``[access] shared = true``).

Synchronous functions over one psycopg connection (autocommit; each opens its own transaction);
:class:`~smallfirst.access.shared.SharedAccess` runs them on a small thread pool, off the event loop.

* **Rate limits** — one row per (key, UTC minute). A request is admitted by one conditional
  ``UPDATE … RETURNING`` that counts it only if the *sliding-window estimate* fits: this minute's
  count plus the previous minute's weighted by the part of it still inside the last 60 s
  (``cur + prev × (1 − elapsed/60)``). That is an approximation of a true sliding window (exact when
  traffic is even across the previous minute) and never admits more than the limit in any
  fixed minute.
* **Budgets** — one row per (key, window) for the UTC day and month: USD spent and reserved. The
  rows are locked (``SELECT … FOR UPDATE``, month then day, the one lock order used everywhere),
  the tiers that fit what is left are chosen, and ``reserved`` grows by the request's upper-bound
  cost in the same transaction, so racing requests on any number of replicas cannot overspend.
  A row in ``access_grants`` remembers the reservation; settlement deletes it and moves the real
  cost from ``reserved`` to ``spent``; :func:`sweep` releases grants older than ``max_age_s`` (a
  replica that crashed with requests in flight).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smallfirst.access.keys import Limits
from smallfirst.access.limits import Ledger
from smallfirst.core.errors import BudgetExceededError, RateLimitError

if TYPE_CHECKING:
    import psycopg

    Conn = psycopg.Connection[tuple[Any, ...]]

_PREV = "COALESCE((SELECT p.{col} FROM access_rate p WHERE p.key_id = r.key_id AND p.minute = r.minute - 1), 0)"
_BUDGET_UPSERT = """
    INSERT INTO access_budget AS b (key_id, win, spent, reserved) VALUES (%s, %s, %s, 0)
    ON CONFLICT (key_id, win) DO UPDATE SET spent = b.spent + excluded.spent,
        reserved = GREATEST(0, b.reserved - %s)
"""
_USAGE_UPSERT = """
    INSERT INTO access_usage AS u (key_id, day, cost_usd, requests, tokens) VALUES (%s, %s, %s, 1, %s)
    ON CONFLICT (key_id, day) DO UPDATE SET cost_usd = u.cost_usd + excluded.cost_usd,
        requests = u.requests + 1, tokens = u.tokens + excluded.tokens
"""


@dataclass(frozen=True, slots=True)
class SharedGrant:
    """What one admitted request holds in the shared tables (settled by :func:`settle`)."""

    id: str  # its access_grants row ("" when it reserved no USD)
    key_id: str
    day: str
    minute: int
    tokens: float  # reserved against tokens/min (0 when the key has no token limit)
    cost: float
    budgeted: bool


def _rate_sql(rpm: bool, tpm: bool) -> bytes:
    conds = []
    if rpm:
        conds.append(f"r.requests + 1 + %(w)s * {_PREV.format(col='requests')} <= %(rpm)s")
    if tpm:
        conds.append(f"r.tokens + %(need)s + %(w)s * {_PREV.format(col='tokens')} <= %(tpm)s")
    return ("UPDATE access_rate r SET requests = r.requests + 1, tokens = r.tokens + %(t)s "
            f"WHERE r.key_id = %(k)s AND r.minute = %(m)s AND {' AND '.join(conds)} RETURNING r.requests").encode()


def sliding_wait(cur: float, prev: float, need: float, cap: float, elapsed: float) -> float:
    """Seconds until ``cur + prev × (1 − t/60) + need ≤ cap`` (``t``: seconds into this minute), then
    into the next minute (where ``cur`` becomes the previous one)."""
    if prev > 0:
        t = 60.0 * (cur + prev + need - cap) / prev
        if t <= 60.0:
            return max(0.0, t - elapsed)
    s = 60.0 * (cur + need - cap) / cur if cur > 0 else 0.0
    return (60.0 - elapsed) + max(0.0, s)


def _take_rate(conn: Conn, key_id: str, label: str, lim: Limits, minute: int, elapsed: float, tokens: float) -> None:
    conn.execute("INSERT INTO access_rate (key_id, minute, requests, tokens) VALUES (%s, %s, 0, 0) "
                 "ON CONFLICT DO NOTHING", (key_id, minute))
    need = min(tokens, float(lim.tpm)) if lim.tpm is not None else 0.0
    args = {"k": key_id, "m": minute, "w": max(0.0, 1.0 - elapsed / 60.0), "rpm": lim.rpm, "tpm": lim.tpm,
            "need": need, "t": tokens if lim.tpm is not None else 0.0}
    if conn.execute(_rate_sql(lim.rpm is not None, lim.tpm is not None), args).fetchone() is not None:
        return
    seen = {int(m): (float(n), float(t)) for m, n, t in conn.execute(
        "SELECT minute, requests, tokens FROM access_rate WHERE key_id = %s AND minute IN (%s, %s)",
        (key_id, minute - 1, minute)).fetchall()}
    (cur_n, cur_t), (prev_n, prev_t) = seen.get(minute, (0.0, 0.0)), seen.get(minute - 1, (0.0, 0.0))
    if lim.rpm is not None:
        wait = sliding_wait(cur_n, prev_n, 1.0, lim.rpm, elapsed)
        if wait > 0 or lim.tpm is None:
            wait = max(1.0, wait)
            raise RateLimitError(f"API key {label} is over its limit of {lim.rpm} requests per minute "
                                 f"(shared by every replica); retry in {math.ceil(wait)} s",
                                 hint="slow down, or ask for a higher limit", retry_after_s=wait)
    wait = max(1.0, sliding_wait(cur_t, prev_t, need, float(lim.tpm or 0), elapsed))
    raise RateLimitError(f"API key {label} is over its limit of {lim.tpm} tokens per minute (shared by every "
                         f"replica; this request may use about {round(tokens)}); retry in {math.ceil(wait)} s",
                         hint="slow down, lower max_tokens, or ask for a higher limit", retry_after_s=wait)


def _lock_budget(conn: Conn, key_id: str, day: str) -> dict[str, tuple[float, float]]:
    sql = ("SELECT win, spent, reserved FROM access_budget WHERE key_id = %s AND win IN (%s, %s) "
           "ORDER BY win FOR UPDATE")  # month ('YYYY-MM') sorts before day: the one lock order
    rows = conn.execute(sql, (key_id, day[:7], day)).fetchall()
    if len(rows) < 2:
        conn.execute("INSERT INTO access_budget (key_id, win) VALUES (%s, %s), (%s, %s) ON CONFLICT DO NOTHING",
                     (key_id, day[:7], key_id, day))
        rows = conn.execute(sql, (key_id, day[:7], day)).fetchall()
    return {str(w): (float(s), float(r)) for w, s, r in rows}


def reserve(conn: Conn, *, grant_id: str, key_id: str, label: str, limits: Limits, day: str, minute: int,
            elapsed: float, tokens: float, now: float,
            choose: Callable[[float], tuple[list[str], float]],
            over_budget: Callable[[Ledger, str], BudgetExceededError]) -> tuple[list[str] | None, SharedGrant]:
    """Check and take the key's shared limits in one transaction (rolled back when one refuses).

    ``choose(left_usd)`` returns the tiers that fit and the USD to reserve; returns (those tiers —
    None when the key has no budget — and the grant)."""
    budgeted = limits.budget_day_usd is not None or limits.budget_month_usd is not None
    tiers: list[str] | None = None
    cost = 0.0
    gid = ""
    with conn.transaction():
        if limits.rpm is not None or limits.tpm is not None:
            _take_rate(conn, key_id, label, limits, minute, elapsed, tokens)
        if budgeted:
            rows = _lock_budget(conn, key_id, day)
            spent_d, res_d = rows.get(day, (0.0, 0.0))
            spent_m, res_m = rows.get(day[:7], (0.0, 0.0))
            left, window, held = math.inf, "day", 0.0
            if limits.budget_day_usd is not None:
                left, held = limits.budget_day_usd - spent_d - res_d, res_d
            if limits.budget_month_usd is not None and limits.budget_month_usd - spent_m - res_m < left:
                left, window, held = limits.budget_month_usd - spent_m - res_m, "month", res_m
            tiers, cost = choose(left)
            if not tiers:
                raise over_budget(Ledger(day, spent_d, spent_m, held), window)
            if cost > 0:
                gid = grant_id
                conn.execute("UPDATE access_budget SET reserved = reserved + %s WHERE key_id = %s AND win IN (%s, %s)",
                             (cost, key_id, day[:7], day))
                conn.execute("INSERT INTO access_grants (id, key_id, day, cost, created) VALUES (%s, %s, %s, %s, %s)",
                             (gid, key_id, day, cost, now))
    return tiers, SharedGrant(gid, key_id, day, minute, tokens if limits.tpm is not None else 0.0, cost, budgeted)


def settle(conn: Conn, g: SharedGrant, cost_usd: float, used_tokens: int) -> None:
    """The request finished: give back unused tokens, move its real cost from reserved to spent."""
    with conn.transaction():
        if g.tokens:
            conn.execute("UPDATE access_rate SET tokens = GREATEST(0, tokens - %s) WHERE key_id = %s AND minute = %s",
                         (g.tokens - used_tokens, g.key_id, g.minute))
        release = 0.0
        if g.id and conn.execute("DELETE FROM access_grants WHERE id = %s", (g.id,)).rowcount:
            release = g.cost  # else the sweep already released it
        if g.budgeted:
            for win in (g.day[:7], g.day):
                conn.execute(_BUDGET_UPSERT, (g.key_id, win, cost_usd, release))
        conn.execute(_USAGE_UPSERT, (g.key_id, g.day, cost_usd, used_tokens))


def sweep(conn: Conn, now: float, max_age_s: float) -> int:
    """Release reservations older than ``max_age_s`` and drop rate rows older than two minutes;
    returns how many reservations were released."""
    with conn.transaction():
        gone = conn.execute("DELETE FROM access_grants WHERE created < %s RETURNING key_id, day, cost",
                            (now - max_age_s,)).fetchall()
        held: dict[tuple[str, str], float] = {}
        for kid, day, cost in gone:
            for win in (day[:7], day):
                held[(kid, win)] = held.get((kid, win), 0.0) + float(cost)
        for (kid, win), usd in sorted(held.items()):
            conn.execute("UPDATE access_budget SET reserved = GREATEST(0, reserved - %s) "
                         "WHERE key_id = %s AND win = %s", (usd, kid, win))
    conn.execute("DELETE FROM access_rate WHERE minute < %s", (int(now // 60) - 2,))
    return len(gone)


def budget_snapshot(conn: Conn, day: str) -> dict[str, dict[str, float]]:
    """Per key id: USD spent today / this month and reserved (the larger window's), as in memory."""
    out: dict[str, dict[str, float]] = {}
    for kid, win, spent, reserved in conn.execute(
            "SELECT key_id, win, spent, reserved FROM access_budget WHERE win IN (%s, %s)", (day, day[:7])):
        d = out.setdefault(str(kid), {"spent_day": 0.0, "spent_month": 0.0, "reserved": 0.0})
        d["spent_day" if win == day else "spent_month"] = float(spent)
        d["reserved"] = max(d["reserved"], float(reserved))
    return out
