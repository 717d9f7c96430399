"""LLM-as-judge through a configured tier: a rubric rating 1–10, or pairwise against the reference
(both orders, to cancel position bias). The judge's cost is returned with each score."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

from smallfirst.core.errors import BadRequestError, UpstreamError
from smallfirst.core.tiers import Tier
from smallfirst.evaluate.calls import Caller, CallPolicy
from smallfirst.evaluate.scorers.base import EvalScorer, Scored

RUBRIC_SYSTEM = (
    "You are an impartial grader. Rate how well the RESPONSE answers the TASK on a scale from 1 "
    "(wrong or useless) to 10 (fully correct, complete and clear). When a REFERENCE answer is given, "
    "treat it as the standard of correctness. Reply with the rating only: one integer from 1 to 10.")
PAIRWISE_SYSTEM = (
    "You compare two answers to the same task and decide which is better: more correct, complete and "
    "helpful. Reply with exactly one word: A, B or TIE.")
_RATING = re.compile(r"(?<!\d)(10|[1-9])(?!\d)")
_VERDICT = re.compile(r"\b(A|B)\b")


class JudgeError(UpstreamError):
    """The judge tier could not be reached (after retries, on every endpoint)."""

    code = "judge_failed"


def parse_rating(reply: str) -> int | None:
    m = _RATING.search(reply)
    return int(m.group(1)) if m else None


def parse_verdict(reply: str) -> str | None:
    """``"A"``, ``"B"`` or ``"TIE"`` from a judge's reply (``None`` when it says none of them)."""
    up = reply.upper()
    if re.search(r"\bTIE\b", up):
        return "TIE"
    m = _VERDICT.search(up)
    return m.group(1) if m else None


def _messages(system: str, user: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


class JudgeScorer(EvalScorer):
    """Scores with a model of ``tier``. ``mode``: ``rubric`` → (rating − 1) / 9; ``pairwise`` → the
    answer's points against the reference (win 1, tie ½, loss 0), averaged over both orders.

    The runner awaits :meth:`ascore` on its own event loop. :meth:`score` (the sync protocol form)
    runs one judgement on a fresh loop and closes the tier's connections afterwards.
    """

    def __init__(self, tier: Tier, mode: str = "rubric", caller: Caller | None = None,
                 max_tokens: int = 16) -> None:
        if mode not in ("rubric", "pairwise"):
            raise BadRequestError(f"unknown judge mode {mode!r}", hint="use rubric or pairwise")
        self.tier = tier
        self.mode = mode
        self.name = "judge" if mode == "rubric" else "judge_pairwise"
        self.caller = caller or Caller(CallPolicy(), lambda ep: 4)
        self.max_tokens = max_tokens

    async def _ask(self, system: str, user: str) -> tuple[str, float]:
        from smallfirst.wire.openai_parse import to_request

        last: UpstreamError | None = None
        for ep in self.tier.order():
            req = to_request({"model": ep.backend.model, "messages": _messages(system, user),
                              "max_tokens": self.max_tokens, "temperature": 0})
            res = await self.caller.call(ep, req)
            if res.response is not None:
                return res.response.content, res.cost_usd
            last = res.error if isinstance(res.error, UpstreamError) else last
        raise JudgeError(f"judge tier {self.tier.name!r} failed: {last.message if last else 'no endpoint'}",
                         hint="check the judge tier's endpoints; the task is retried on the next run")

    async def ascore(self, task: Mapping[str, Any], answer: str) -> Scored:
        prompt = str(task.get("prompt") or "")
        ref = task.get("expected")
        if self.mode == "rubric":
            ref_part = f"REFERENCE:\n{ref}\n\n" if isinstance(ref, str) and ref else ""
            reply, cost = await self._ask(RUBRIC_SYSTEM, f"TASK:\n{prompt}\n\n{ref_part}RESPONSE:\n{answer}\n\n"
                                                         "Rating (1-10):")
            rating = parse_rating(reply)
            if rating is None:
                return Scored(0.0, cost, f"judge gave no rating: {reply[:80]!r}")
            return Scored((rating - 1) / 9.0, cost, f"rating {rating}")
        if not isinstance(ref, str) or not ref:
            raise BadRequestError("pairwise judging needs a reference answer in 'expected'")

        def ask(a: str, b: str) -> str:
            return f"TASK:\n{prompt}\n\nANSWER A:\n{a}\n\nANSWER B:\n{b}\n\nVerdict (A, B or TIE):"

        (first, c1), (second, c2) = await asyncio.gather(self._ask(PAIRWISE_SYSTEM, ask(answer, ref)),
                                                         self._ask(PAIRWISE_SYSTEM, ask(ref, answer)))
        v1, v2 = parse_verdict(first), parse_verdict(second)
        points = {"A": 1.0, "TIE": 0.5, "B": 0.0}
        got = [points[v1]] if v1 else []
        got += [1.0 - points[v2]] if v2 else []
        detail = f"verdicts {v1 or '?'} / {v2 or '?'} (answer first / reference first)"
        return Scored(sum(got) / len(got) if got else 0.0, c1 + c2, detail)

    def score(self, task: Mapping[str, Any], answer: str) -> float:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._once(task, answer)).score
        raise BadRequestError("JudgeScorer.score() was called inside a running event loop",
                              hint="await JudgeScorer.ascore(task, answer) instead")

    async def _once(self, task: Mapping[str, Any], answer: str) -> Scored:
        try:
            return await self.ascore(task, answer)
        finally:
            for ep in self.tier.endpoints:
                await ep.backend.aclose()
