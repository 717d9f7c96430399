"""Answer scorers for ``smallfirst eval``; each implements :class:`smallfirst.core.protocols.Scorer`.

=================  ==========================================================================
name               what scores 1
=================  ==========================================================================
``exact``          the normalised answer equals a reference
``label``          the answer names exactly one allowed label, the expected one
``json``           schema-valid JSON (a gate) × share of expected fields matching
``number``         the extracted final number equals the expected one (GSM8K style)
``regex``          a pattern is found in the answer
``f1``             token F1 against the best reference (graded)
``rouge_l``        ROUGE-L F1 against the best reference (graded)
``judge``          an LLM judge's rubric rating, (r − 1) / 9 (graded; costs tokens)
``judge_pairwise`` an LLM judge prefers the answer over the reference (both orders; ½ per tie)
=================  ==========================================================================

The pure ones are registered through the plugin hooks (:mod:`smallfirst.config.builtins`), like a plugin's
scorers; :func:`build_scorers` builds every name through the registry, except the judges.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smallfirst.core.errors import BadRequestError
from smallfirst.evaluate.scorers.base import EvalScorer, PluginScorer, Scored
from smallfirst.evaluate.scorers.exact import ExactScorer, LabelScorer
from smallfirst.evaluate.scorers.jsonfield import JsonScorer
from smallfirst.evaluate.scorers.judge import JudgeScorer
from smallfirst.evaluate.scorers.number import NumberScorer
from smallfirst.evaluate.scorers.overlap import F1Scorer, RougeLScorer
from smallfirst.evaluate.scorers.regex import RegexScorer

PURE: dict[str, type[EvalScorer]] = {
    "exact": ExactScorer, "label": LabelScorer, "json": JsonScorer, "number": NumberScorer,
    "regex": RegexScorer, "f1": F1Scorer, "rouge_l": RougeLScorer,
}


def build_scorers(names: set[str] | frozenset[str], judge: JudgeScorer | None = None,
                  pairwise: JudgeScorer | None = None,
                  options: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, EvalScorer]:
    """One scorer per name in use; judge names need the judge built from a configured tier. ``options``: the
    ``[scorers.<name>]`` tables of the config (``settings.scorers``), for scorers that declare options."""
    from smallfirst.config.registry import scorer_factory

    out: dict[str, EvalScorer] = {}
    for name in sorted(names):
        if name not in ("judge", "judge_pairwise"):
            made = scorer_factory(name)((options or {}).get(name, {}))
            out[name] = made if isinstance(made, EvalScorer) else PluginScorer(made, name)
            continue
        j = judge if name == "judge" else pairwise
        if j is None:
            raise BadRequestError(f"tasks use scorer {name!r}, which needs an LLM judge",
                                  hint="pass --judge TIER (a tier of your config) to `smallfirst eval`")
        out[name] = j
    return out


__all__ = ["PURE", "EvalScorer", "ExactScorer", "F1Scorer", "JsonScorer", "JudgeScorer", "LabelScorer",
           "NumberScorer", "PluginScorer", "RegexScorer", "RougeLScorer", "Scored", "build_scorers"]
