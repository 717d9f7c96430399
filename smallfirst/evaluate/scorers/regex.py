"""Regular-expression match."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from smallfirst.evaluate.scorers.base import EvalScorer, references


class RegexScorer(EvalScorer):
    """1 when any pattern (``expected``, a pattern or a list of them, else ``contract.regex``) is found
    in the answer (``re.search``; anchor with ``^…$`` to require a full match), else 0."""

    name = "regex"

    def score(self, task: Mapping[str, Any], answer: str) -> float:
        patterns = [str(p) for p in references(task)] or [str((task.get("contract") or {}).get("regex") or "")]
        return 1.0 if any(p and re.search(p, answer.strip(), re.M) for p in patterns) else 0.0
