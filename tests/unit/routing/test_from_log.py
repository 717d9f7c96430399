"""Outcome rows from request-log rows and feedback (smallfirst/routing/from_log.py)."""

from __future__ import annotations

from typing import Any

from smallfirst.core.types import Attempt, RequestRecord
from smallfirst.routing.from_log import outcomes_from_log, prompt_id
from smallfirst.store.feedback import Feedback


def row(rid: str, attempts: list[tuple[str, str]], *, tier: str | None = None, **kw: Any) -> RequestRecord:
    base: dict[str, Any] = {
        "request_id": rid, "ts": 1.0, "requested_model": "smallfirst/auto", "tier": tier or attempts[-1][0],
        "model": "m", "endpoint": "e", "status": 200, "error_code": None, "reason": "", "escalations": (),
        "attempts": tuple(Attempt(t, f"{t}-model", "e", o) for t, o in attempts), "prompt_tokens": 1,
        "completion_tokens": 1, "cost_usd": 0.0, "latency_ms": 1.0, "ttft_ms": None, "stream": False,
        "prompt_text": f"prompt of {rid}"}
    return RequestRecord(**{**base, **kw})


def fb(rid: str, **kw: Any) -> Feedback:
    return Feedback(f"fb-{rid}-{kw}", rid, 2.0, None, None, **kw)


def pairs(got: Any) -> list[tuple[str, str, float]]:
    return [(r.prompt.removeprefix("prompt of "), r.tier, r.score) for r in got.rows]


def test_an_escalation_after_a_failed_check_scores_both_tiers() -> None:
    got = outcomes_from_log([row("a", [("local", "schema_invalid"), ("frontier", "ok")]),
                             row("b", [("local", "tool_args_schema"), ("mid", "low_confidence"), ("frontier", "ok")])])
    assert pairs(got) == [("a", "local", 0.0), ("a", "frontier", 1.0),
                          ("b", "local", 0.0), ("b", "mid", 0.0), ("b", "frontier", 1.0)]
    assert got.used == got.from_verdicts == 2 and got.from_feedback == 0
    assert got.rows[0].prompt_id == prompt_id("prompt of a") and got.rows[0].model == "local-model"
    assert got.rows[0].dataset == "request-log"


def test_feedback_scores_the_served_tier_and_the_latest_one_wins() -> None:
    rows = [row("a", [("local", "schema_invalid"), ("frontier", "ok")]), row("b", [("local", "ok")]),
            row("c", [("local", "ok")])]
    got = outcomes_from_log(rows, [fb("a", score=0.4), fb("b", label="good"), fb("b", label="bad"),
                                   fb("c", comment="no score")])
    assert pairs(got) == [("a", "local", 0.0), ("a", "frontier", 0.4), ("b", "local", 0.0)]
    assert got.from_feedback == 2 and got.skipped == {"no verdict and no feedback": 1}


def test_a_served_answer_that_failed_its_check_too_scores_zero_and_check_asks_are_not_answers() -> None:
    exhausted = row("a", [("local", "label_not_allowed"), ("frontier", "label_not_allowed")])
    verified = row("b", [("local", "verifier_rejected"), ("frontier", "verify"), ("frontier", "ok")])
    assert pairs(outcomes_from_log([exhausted, verified])) == [
        ("a", "local", 0.0), ("a", "frontier", 0.0), ("b", "local", 0.0), ("b", "frontier", 1.0)]


def test_rows_that_say_nothing_about_quality_are_skipped_with_reasons() -> None:
    rows = [row("fallback", [("local", "upstream_unavailable"), ("frontier", "ok")]),  # an outage, not a verdict
            row("secret", [("local", "schema_invalid"), ("frontier", "ok")], sensitive=("pii",), prompt_text=None),
            row("no-text", [("local", "schema_invalid"), ("frontier", "ok")], prompt_text=None),
            row("failed", [("local", "schema_invalid")], status=502, tier=None),
            row("cached", [("local", "ok")], tier="cache")]
    got = outcomes_from_log(rows, [fb("cached", score=1.0)])
    assert got.rows == [] and got.used == 0
    assert got.skipped == {"no verdict and no feedback": 1, "sensitive": 1,
                           "no prompt text (log.store_prompts off)": 1, "not answered": 1,
                           "served from the cache": 1}
    assert "1 sensitive" in got.why_skipped()


def test_the_same_prompt_seen_twice_shares_its_prompt_id() -> None:
    same = {"prompt_text": "What is 2+2?"}
    got = outcomes_from_log([row("a", [("local", "regex_mismatch"), ("frontier", "ok")], **same),
                             row("b", [("local", "ok")], **same)], [fb("b", score=1.0)])
    assert len({r.prompt_id for r in got.rows}) == 1 and got.tiers() == ["frontier", "local"]


def test_shadow_rows_score_the_next_tier_and_the_served_one_when_they_agree() -> None:
    agree = row("s1", [("local", "shadowed"), ("frontier", "shadow_agree")], requested_model="smallfirst/shadow")
    differ = row("s2", [("local", "shadowed"), ("frontier", "shadow_differ")], requested_model="smallfirst/shadow",
                 prompt_text="prompt of b")
    served = row("b", [("local", "ok")])
    got = outcomes_from_log([served, agree, differ], [fb("b", score=0.5)])
    assert pairs(got) == [("b", "local", 0.5), ("s1", "frontier", 1.0), ("s1", "local", 1.0), ("b", "frontier", 1.0)]
    assert got.from_shadow == 2 and len({r.prompt_id for r in got.rows if r.prompt == "prompt of b"}) == 1
