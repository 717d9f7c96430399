"""`smallfirst router train --from-log`: the outcome table from the request log and its feedback
(smallfirst/routing/from_log.py), or a one-line reason why there is not enough to train on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from smallfirst.cli.logstore import open_store
from smallfirst.config.loader import load
from smallfirst.core.errors import BadRequestError

DEFAULT_SINCE = "30d"
MIN_PROMPTS = 20


def _tier_order(configured: list[str], seen: list[str], names: list[str] | None) -> list[str] | None:
    """--tiers, else the configured order; None when a tier with outcomes is not in the config."""
    if names:
        missing = [t for t in names if t not in seen]
        if missing:
            raise BadRequestError(f"the request log has no outcomes for tier(s) {', '.join(missing)}",
                                  hint=f"tiers with outcomes: {', '.join(seen) or 'none'}")
        return names
    return [t for t in configured if t in seen] if set(seen) <= set(configured) else None


def read_log(config: Path | None, log: Path | None, since: str | None) -> tuple[Any, list[Any], list[Any]]:
    """(settings, the log's rows since ``since`` oldest first, their feedback)."""
    from smallfirst.dashboard.views import parse_time

    settings = load(config)
    start = parse_time(since or DEFAULT_SINCE, now=time.time(), param="since")
    store = open_store(settings, log)
    try:
        records = store.query(since=start)
        read = getattr(store, "feedback", None)
        feedback = read(since=start) if read is not None else []
    finally:
        store.close()
    return settings, records, feedback


def table_from_log(config: Path | None, log: Path | None, since: str | None, names: list[str] | None,
                   min_prompts: int = MIN_PROMPTS) -> tuple[Any, str]:
    """(OutcomeTable, a one-line description of where it came from)."""
    settings, records, feedback = read_log(config, log, since)
    return table_from_records(settings, records, feedback, since, names, min_prompts)


def table_from_records(settings: Any, records: list[Any], feedback: list[Any], since: str | None,
                       names: list[str] | None, min_prompts: int = MIN_PROMPTS,
                       verb: str = "router train --from-log") -> tuple[Any, str]:
    """:func:`table_from_log` on rows already read; ``verb`` names the command in the errors."""
    from smallfirst.routing.from_log import outcomes_from_log
    from smallfirst.routing.outcomes import OutcomeTable

    got = outcomes_from_log(records, feedback)
    seen = got.tiers()
    where = (f"{len(records)} requests in the log since {since or DEFAULT_SINCE} gave {len(got.rows)} outcomes "
             f"({got.from_verdicts} escalations after a failed check, {got.from_feedback} with feedback, "
             f"{got.from_shadow} shadow runs; "
             f"skipped: {got.why_skipped()})")
    hint = ("outcomes come from escalations after a failed check and from POST /v1/feedback, only for rows "
            "with prompt text: set log.store_prompts = true, serve traffic, or widen --since")
    if len(seen) < 2:
        raise BadRequestError(f"{verb} needs outcomes for at least two tiers, found "
                              f"{len(seen)} ({', '.join(seen) or 'none'}): {where}", hint=hint)
    order = _tier_order([t.name for t in settings.tiers], seen, names)
    if order is None:  # a tier not in the config: the weaker (by mean score) taken as the cheaper, as from files
        mean = {t: sum(r.score for r in got.rows if r.tier == t) / sum(r.tier == t for r in got.rows) for t in seen}
        order = sorted(seen, key=lambda t: mean[t])
    per: dict[str, set[str]] = {}
    for r in got.rows:
        per.setdefault(r.prompt_id, set()).add(r.tier)
    need = set(order)
    complete = sum(1 for ts in per.values() if need <= ts)
    if complete < min_prompts:
        raise BadRequestError(f"{verb} needs at least {min_prompts} prompts with outcomes for "
                              f"every tier ({', '.join(order)}), found {complete}: {where}",
                              hint=hint + "; or pick two tiers with --tiers, or lower --min-prompts")
    return OutcomeTable.from_rows(got.rows, tiers=order), where
