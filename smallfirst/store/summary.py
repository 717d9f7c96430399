"""Aggregate queries over the rollup table, shared by the SQLite and PostgreSQL stores.

A time range is read from hour cells for the whole hours inside it, ten-minute cells next to them and
minute cells at the ragged edges, so the cost grows with the length of the range, not with the number
of requests. ``since`` is rounded down and ``until`` up to whole minutes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from smallfirst.core.errors import BadRequestError
from smallfirst.store.rollup import DIM_LOCAL_COST, DIM_STATUS, RESOLUTIONS

Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

_CELL = "t, dim, tier, key, n, cost_usd, prompt_tokens, completion_tokens, latency_ms"
_SUMS = ("CAST(SUM(n) AS BIGINT), SUM(cost_usd), CAST(SUM(prompt_tokens) AS BIGINT), "
         "CAST(SUM(completion_tokens) AS BIGINT)")


def cover(a: int, b: int, levels: Sequence[int]) -> list[tuple[int, int, int]]:
    """``(res, start, end)`` segments covering [a, b) with the coarsest cells that fit (levels coarse first;
    a and b are multiples of the finest)."""
    if a >= b:
        return []
    res, finer = levels[0], levels[1:]
    if not finer:
        return [(res, a, b)]
    lo, hi = math.ceil(a / res) * res, (b // res) * res
    if lo >= hi:
        return cover(a, b, finer)
    return [*cover(a, lo, finer), (res, lo, hi), *cover(hi, b, finer)]


def _source(m0: int, m1: int, levels: Sequence[int], dim_filter: str) -> tuple[str, list[Any]]:
    """SQL for the cells covering [m0, m1): coarse cells inside, finer ones towards the ragged edges."""
    parts = cover(m0, m1, levels)
    sql = " UNION ALL ".join(f"SELECT {_CELL} FROM request_rollup WHERE res = ? AND t >= ? AND t < ?{dim_filter}"
                             for _ in parts)
    return sql, [x for part in parts for x in part]


def summarize(execute: Execute, since: float, until: float, bucket_s: int) -> dict[str, Any]:
    """Series (per time bucket, tier and status) and facets (per dimension, tier and key) for a range.

    Returns ``{"since", "until", "bucket_s", "series": [[t, tier, status, n, cost_usd, prompt_tokens,
    completion_tokens], …], "facets": [[dim, tier, key, n, cost_usd, prompt_tokens, completion_tokens,
    latency_ms_sum], …], "local_series": [[t, local_cost_usd], …]}`` with plain ints, floats and strings
    (``local_series``: own-hardware cost per bucket, from the ``localcost`` cells).
    """
    if bucket_s < 60 or bucket_s % 60:
        raise BadRequestError(f"bucket_s must be a positive multiple of 60 seconds, not {bucket_s}",
                              param="bucket_s")
    if not until > since:
        raise BadRequestError(f"the range is empty: until ({until}) must be after since ({since})",
                              param="until")
    m0 = math.floor(since / 60) * 60
    m1 = math.ceil(until / 60) * 60
    levels = sorted(RESOLUTIONS, reverse=True)
    # a series cell must fall inside one bucket: only resolutions that divide the bucket size
    src, args = _source(m0, m1, [r for r in levels if bucket_s % r == 0], f" AND dim = '{DIM_STATUS}'")
    series = execute(
        f"SELECT (t / CAST(? AS BIGINT)) * CAST(? AS BIGINT) AS bt, tier, key, {_SUMS} FROM ({src}) AS s "
        "GROUP BY bt, tier, key ORDER BY bt, tier, key", [bucket_s, bucket_s, *args])
    fine = [r for r in levels if bucket_s % r == 0]
    src, args = _source(m0, m1, fine, f" AND dim = '{DIM_LOCAL_COST}'")
    local = execute(f"SELECT (t / CAST(? AS BIGINT)) * CAST(? AS BIGINT) AS bt, SUM(cost_usd) FROM ({src}) AS s "
                    "GROUP BY bt ORDER BY bt", [bucket_s, bucket_s, *args])
    src, args = _source(m0, m1, levels, "")
    facets = execute(
        f"SELECT dim, tier, key, {_SUMS}, SUM(latency_ms) FROM ({src}) AS s "
        "GROUP BY dim, tier, key ORDER BY dim, tier, key", args)
    return {
        "since": m0, "until": m1, "bucket_s": bucket_s,
        "series": [[int(t), tier, int(key), int(n), float(c), int(p), int(o)] for t, tier, key, n, c, p, o in series],
        "facets": [[d, tier, key, int(n), float(c), int(p), int(o), float(lat)]
                   for d, tier, key, n, c, p, o, lat in facets],
        "local_series": [[int(t), float(c)] for t, c in local],
    }
