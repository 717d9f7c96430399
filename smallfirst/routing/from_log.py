"""Outcome rows (:mod:`smallfirst.routing.outcomes`) from the request log and its feedback table.

What production traffic says about the tiers, without anyone labelling it:

- **an escalation after a failed check**: the cascade rejected a lower tier's answer (``schema_invalid``,
  ``label_not_allowed``, ``tool_args_schema``, ``low_confidence``, ``verifier_rejected`` …), so that tier
  scored 0 on this prompt; the tier that then answered scores the client's feedback if there is some,
  else 1 (its answer was accepted — also by its own check, when the request had a contract). A served
  answer that failed its check too (no higher tier could answer) scores 0.
- **feedback alone** (``POST /v1/feedback``): the tier that served scores the feedback (a score, or
  good 1 / bad 0; a correction alone counts as bad).
- **a shadow run** (``[routing] shadow_share``, smallfirst/policy/shadow.py): the next tier's answer to a
  prompt the lowest tier served scores 1; the lowest tier's scores 1 too when both answers are the same
  text (``shadow_agree``), else nothing here — feedback on the served row (same prompt) completes the pair.

Only rows whose prompt text was kept (``log.store_prompts``) can train a router — its features are the
text — and never a sensitive row (the log keeps no text for those anyway). Rows that failed, rows whose
escalation was a backend failure rather than a verdict (a fallback says nothing about quality), and
rows with neither a verdict nor feedback are skipped; :class:`FromLog` counts why.

``prompt_id`` is a hash of the prompt text, so the same prompt seen again (another tier, another day)
pivots into one row of the outcome table; repeated answers of one tier are averaged there.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from smallfirst.core.types import RequestRecord
from smallfirst.routing.outcomes import Outcome
from smallfirst.store.feedback import Feedback, latest_by_request

# The cascade's verdicts on an answer (smallfirst/cascade/contract.py, tool_calls.py, checker.py).
VERDICTS = frozenset({
    "empty_answer", "refusal", "uncertain", "truncated", "too_long", "label_not_allowed", "invalid_json",
    "schema_invalid", "missing_field", "regex_mismatch", "tool_unknown", "tool_args_invalid_json",
    "tool_args_schema", "tool_call_missing", "tool_not_chosen", "low_confidence", "inconsistent",
    "verifier_rejected",
})
ASKS = frozenset({"verify", "sample"})  # extra answers a check asked for: not the tier's answer
SHADOW = frozenset({"shadow_agree", "shadow_differ"})  # smallfirst/policy/shadow.py
DATASET = "request-log"


@dataclass
class FromLog:
    """The outcome rows and what was skipped, by reason."""

    rows: list[Outcome] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    used: int = 0  # log rows that gave outcomes
    from_verdicts: int = 0  # of which: an escalation after a failed check
    from_feedback: int = 0  # of which: with feedback
    from_shadow: int = 0  # of which: shadow runs

    def tiers(self) -> list[str]:
        return sorted({r.tier for r in self.rows})

    def why_skipped(self) -> str:
        return ", ".join(f"{n} {why}" for why, n in self.skipped.most_common()) or "none"


def prompt_id(text: str) -> str:
    return "log-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _tier_scores(r: RequestRecord, fb: Feedback | None) -> dict[str, float]:
    """Tier → score for one served row; lower tiers rejected by a verdict score 0."""
    out: dict[str, float] = {}
    shadow = [a for a in r.attempts if a.outcome in SHADOW]
    if shadow:  # a shadow run: the next tier's answer scores 1; the served one 1 too when they agree
        out[shadow[-1].tier] = 1.0
        if shadow[-1].outcome == "shadow_agree":
            out.update({a.tier: 1.0 for a in r.attempts if a.outcome == "shadowed"})
        return out
    for a in r.attempts:
        if a.outcome in VERDICTS and a.tier != r.tier:
            out[a.tier] = 0.0
    if not out and fb is None:
        return out
    served = [a for a in r.attempts if a.tier == r.tier and a.outcome not in ASKS]
    failed = bool(served) and served[-1].outcome in VERDICTS  # answered, but failed its own check too
    score = fb.effective_score() if fb is not None else None
    out[r.tier or ""] = score if score is not None else (0.0 if failed else 1.0)
    return out


def outcomes_from_log(records: Iterable[RequestRecord], feedback: Iterable[Feedback] = ()) -> FromLog:
    """Outcome rows from log rows (oldest first) and their feedback; see the module docstring."""
    latest: Mapping[str, Feedback] = latest_by_request(list(feedback))
    res = FromLog()
    for r in records:
        fb = latest.get(r.request_id)
        if r.sensitive:
            res.skipped["sensitive"] += 1
            continue
        if r.status != 200 or not r.tier:
            res.skipped["not answered"] += 1
            continue
        if r.tier == "cache":
            res.skipped["served from the cache"] += 1
            continue
        scores = _tier_scores(r, fb)
        if not scores:
            res.skipped["no verdict and no feedback"] += 1
            continue
        if not r.prompt_text:
            res.skipped["no prompt text (log.store_prompts off)"] += 1
            continue
        pid = prompt_id(r.prompt_text)
        models = {a.tier: a.model for a in r.attempts if a.outcome not in ASKS}
        for tier, score in scores.items():
            res.rows.append(Outcome(prompt_id=pid, prompt=r.prompt_text, tier=tier, score=score,
                                    model=models.get(tier), task=r.task_type, dataset=DATASET))
        res.used += 1
        res.from_verdicts += len(scores) > 1
        res.from_feedback += fb is not None
        res.from_shadow += any(a.outcome in SHADOW for a in r.attempts)
    return res
