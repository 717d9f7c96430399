"""Shared budgets and rate limits: atomic reservations in PostgreSQL (``[access] shared = true``).

Synchronous functions over one psycopg connection in autocommit mode, each check-and-take a
*single* statement (atomic, and a row is locked only while that statement runs);
:class:`~smallfirst.access.shared.SharedAccess` runs them on a small thread pool, off the event loop.

* **Rate limits** — one row per (key, UTC minute). A request is counted by one conditional upsert
  that succeeds only if the *sliding-window estimate* fits: this minute's count plus the previous
  minute's weighted by the part of it still inside the last 60 s (``cur + prev × (1 − elapsed/60)``).
  That approximates a true sliding window (exact when the previous minute's traffic was even) and
  never admits more than the limit within one fixed minute. A request refused later (budget) gives
  its count back.
* **Budgets** — one row per key: USD spent on the current UTC day and month (rolled forward by the
  first request of a new day or month) and USD reserved by requests in flight. A reservation is
  ``UPDATE … SET reserved = reserved + cost WHERE spent + reserved + cost <= budget`` — PostgreSQL
  re-checks the condition on the latest row version, so racing requests on any number of replicas
  cannot overspend — with the ``access_grants`` row inserted by the same statement. The first try
  reserves for every tier the key may use; when that does not fit, the row is read and the
  expensive tiers are dropped until one fits (or ``429 budget_exceeded``). Settlement deletes the
  grant and moves the real cost from reserved to spent, in one statement; :func:`sweep` releases
  grants older than ``max_age_s`` (a replica that crashed with requests in flight).
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

_PREV = "COALESCE((SELECT p.{col} FROM access_rate p WHERE p.key_id = %(k)s AND p.minute = %(m)s - 1), 0)"
_DAY = "CASE WHEN day >= %(d)s THEN spent_day ELSE 0 END"  # today's spend (0 once the row's day is past)
_MONTH = "CASE WHEN month >= %(mo)s THEN spent_month ELSE 0 END"
_TRIES = 8


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
    first, cond = [], []  # the minute's first request (insert) / later ones (update): the same estimate
    if rpm:
        first.append(f"1 + %(w)s * {_PREV.format(col='requests')} <= %(rpm)s")
        cond.append(f"r.requests + 1 + %(w)s * {_PREV.format(col='requests')} <= %(rpm)s")
    if tpm:
        first.append(f"%(need)s + %(w)s * {_PREV.format(col='tokens')} <= %(tpm)s")
        cond.append(f"r.tokens + %(need)s + %(w)s * {_PREV.format(col='tokens')} <= %(tpm)s")
    return ("INSERT INTO access_rate AS r (key_id, minute, requests, tokens) "
            f"SELECT %(k)s, %(m)s, 1, %(t)s WHERE {' AND '.join(first)} "
            "ON CONFLICT (key_id, minute) DO UPDATE SET requests = r.requests + 1, tokens = r.tokens + %(t)s "
            f"WHERE {' AND '.join(cond)} RETURNING r.requests").encode()


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


def _reserve_sql(lim: Limits) -> bytes:
    cond = ""
    if lim.budget_day_usd is not None:
        cond += f" AND {_DAY} + reserved + %(c)s <= %(bd)s"
    if lim.budget_month_usd is not None:
        cond += f" AND {_MONTH} + reserved + %(c)s <= %(bm)s"
    return ("WITH b AS (UPDATE access_budget SET "
            f"spent_day = {_DAY}, spent_month = {_MONTH}, day = GREATEST(day, %(d)s), "
            "month = GREATEST(month, %(mo)s), reserved = reserved + %(c)s "
            f"WHERE key_id = %(k)s{cond} RETURNING key_id) "
            "INSERT INTO access_grants (id, key_id, day, cost, created) "
            "SELECT %(g)s, key_id, %(d)s, %(c)s, %(now)s FROM b RETURNING id").encode()


def _take_budget(conn: Conn, args: dict[str, Any], lim: Limits, choose: Callable[[float], tuple[list[str], float]],
                 over_budget: Callable[[Ledger, str], BudgetExceededError]) -> tuple[list[str], float]:
    tiers, cost = choose(math.inf)  # first try: every tier the key may use
    sql = _reserve_sql(lim)
    seen, window = Ledger(args["d"]), "day"
    for _ in range(_TRIES):
        if cost <= 0:
            return tiers, 0.0  # nothing to reserve (free tiers)
        if conn.execute(sql, {**args, "c": cost}).fetchone() is not None:
            return tiers, cost
        row = conn.execute(f"SELECT {_DAY}, {_MONTH}, reserved FROM access_budget WHERE key_id = %(k)s".encode(),
                           args).fetchone()
        if row is None:
            conn.execute("INSERT INTO access_budget (key_id, day, month) VALUES (%(k)s, %(d)s, %(mo)s) "
                         "ON CONFLICT DO NOTHING", args)
            continue
        spent_d, spent_m, held = float(row[0]), float(row[1]), float(row[2])
        seen, left, window = Ledger(args["d"], spent_d, spent_m, held), math.inf, "day"
        if lim.budget_day_usd is not None:
            left = lim.budget_day_usd - spent_d - held
        if lim.budget_month_usd is not None and lim.budget_month_usd - spent_m - held < left:
            left, window = lim.budget_month_usd - spent_m - held, "month"
        tiers, cost = choose(left)
        if not tiers:
            raise over_budget(seen, window)
    raise over_budget(seen, window)  # what is left kept being taken by racing requests


def reserve(conn: Conn, *, grant_id: str, key_id: str, label: str, limits: Limits, day: str, minute: int,
            elapsed: float, tokens: float, now: float,
            choose: Callable[[float], tuple[list[str], float]],
            over_budget: Callable[[Ledger, str], BudgetExceededError]) -> tuple[list[str] | None, SharedGrant]:
    """Check and take the key's shared limits; a refusal leaves nothing taken.

    ``choose(left_usd)`` returns the tiers that fit and the USD to reserve; returns (those tiers —
    None when the key has no budget — and the grant)."""
    budgeted = limits.budget_day_usd is not None or limits.budget_month_usd is not None
    rated = limits.rpm is not None or limits.tpm is not None
    took = tokens if limits.tpm is not None else 0.0
    if rated:
        _take_rate(conn, key_id, label, limits, minute, elapsed, tokens)
    tiers: list[str] | None = None
    cost = 0.0
    if budgeted:
        args = {"k": key_id, "d": day, "mo": day[:7], "bd": limits.budget_day_usd, "bm": limits.budget_month_usd,
                "g": grant_id, "now": now}
        try:
            tiers, cost = _take_budget(conn, args, limits, choose, over_budget)
        except BaseException:
            if rated:  # give the rate count back
                conn.execute("UPDATE access_rate SET requests = GREATEST(0, requests - 1), "
                             "tokens = GREATEST(0, tokens - %s) WHERE key_id = %s AND minute = %s",
                             (took, key_id, minute))
            raise
    return tiers, SharedGrant(grant_id if cost > 0 else "", key_id, day, minute, took, cost, budgeted)


def settle(conn: Conn, g: SharedGrant, cost_usd: float, used_tokens: int) -> None:
    """The request finished: give back unused tokens, move its real cost from reserved to spent,
    add it to ``access_usage`` — one statement."""
    ctes = []
    args: dict[str, Any] = {"k": g.key_id, "d": g.day, "mo": g.day[:7], "c": cost_usd, "u": used_tokens,
                            "g": g.id, "m": g.minute, "give": g.tokens - used_tokens}
    if g.tokens:
        ctes.append("r AS (UPDATE access_rate SET tokens = GREATEST(0, tokens - %(give)s) "
                    "WHERE key_id = %(k)s AND minute = %(m)s RETURNING 1)")
    if g.budgeted:
        ctes.append("g AS (DELETE FROM access_grants WHERE id = %(g)s RETURNING cost)")  # none: the sweep released it
        ctes.append("b AS (INSERT INTO access_budget AS b (key_id, day, spent_day, month, spent_month) "
                    "VALUES (%(k)s, %(d)s, %(c)s, %(mo)s, %(c)s) ON CONFLICT (key_id) DO UPDATE SET "
                    "reserved = GREATEST(0, b.reserved - COALESCE((SELECT SUM(cost) FROM g), 0)), "
                    "spent_day = b.spent_day + CASE WHEN b.day = %(d)s THEN %(c)s ELSE 0 END, "
                    "spent_month = b.spent_month + CASE WHEN b.month = %(mo)s THEN %(c)s ELSE 0 END RETURNING 1)")
    with_ = f"WITH {', '.join(ctes)} " if ctes else ""
    conn.execute((f"{with_}INSERT INTO access_usage AS u (key_id, day, cost_usd, requests, tokens) "
                  "VALUES (%(k)s, %(d)s, %(c)s, 1, %(u)s) ON CONFLICT (key_id, day) DO UPDATE SET "
                  "cost_usd = u.cost_usd + excluded.cost_usd, requests = u.requests + 1, "
                  "tokens = u.tokens + excluded.tokens").encode(), args)


def sweep(conn: Conn, now: float, max_age_s: float) -> int:
    """Release reservations older than ``max_age_s`` and drop rate rows older than two minutes;
    returns how many reservations were released."""
    row = conn.execute(
        "WITH g AS (DELETE FROM access_grants WHERE created < %s RETURNING key_id, cost), "
        "s AS (SELECT key_id, SUM(cost) AS usd, COUNT(*) AS n FROM g GROUP BY key_id), "
        "u AS (UPDATE access_budget b SET reserved = GREATEST(0, b.reserved - s.usd) FROM s "
        "WHERE b.key_id = s.key_id RETURNING 1) "
        "SELECT COALESCE(SUM(n), 0) FROM s", (now - max_age_s,)).fetchone()
    conn.execute("DELETE FROM access_rate WHERE minute < %s", (int(now // 60) - 2,))
    return int(row[0]) if row else 0


def budget_snapshot(conn: Conn, day: str) -> dict[str, dict[str, float]]:
    """Per key id: USD spent today / this month and reserved, as the in-memory ledgers report."""
    return {str(kid): {"spent_day": float(d), "spent_month": float(m), "reserved": float(r)}
            for kid, d, m, r in conn.execute(
                f"SELECT key_id, {_DAY}, {_MONTH}, reserved FROM access_budget".encode(), {"d": day, "mo": day[:7]})}
