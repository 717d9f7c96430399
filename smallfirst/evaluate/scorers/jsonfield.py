"""JSON answers: schema validity (a gate) times the share of expected fields that match."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from smallfirst.evaluate.scorers.base import EvalScorer, Scored
from smallfirst.evaluate.scorers.text import normalise, strip_fence

_MISSING = object()


def schema_errors(schema: Mapping[str, Any], value: Any) -> list[str]:
    """Validation problems of ``value`` against ``schema`` (path: message), empty when valid; the
    validator is the cascade's (the schema's ``$schema`` draft, else 2020-12)."""
    from smallfirst.config.cascade import validator_class

    v = validator_class(schema)(schema)
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in sorted(v.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))]


def parse_json_answer(answer: str) -> Any:
    """The JSON value in an answer: the whole text (a Markdown fence removed), else the first JSON
    object/array that starts in it. Raises ``ValueError`` when there is none."""
    text = strip_fence(answer).strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    dec = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                return dec.raw_decode(text, i)[0]
            except ValueError:
                continue
    raise ValueError("no JSON value in the answer")


def values_match(got: Any, want: Any) -> bool:
    """Numbers within 1e-6 relative; strings normalised; lists of scalars as multisets; objects by key."""
    if isinstance(want, bool) or isinstance(got, bool):
        return got is want if isinstance(got, bool) and isinstance(want, bool) else False
    if isinstance(want, int | float) and isinstance(got, int | float):
        return math.isclose(float(got), float(want), rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(want, str) and isinstance(got, str):
        return normalise(got) == normalise(want)
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return False
        if all(not isinstance(x, dict | list) for x in [*got, *want]):
            key = json.dumps
            return sorted(key(_norm_scalar(x)) for x in got) == sorted(key(_norm_scalar(x)) for x in want)
        return all(values_match(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, dict) and isinstance(got, dict):
        return set(got) == set(want) and all(values_match(got[k], want[k]) for k in want)
    return bool(got is None and want is None)


def _norm_scalar(x: Any) -> Any:
    if isinstance(x, str):
        return normalise(x)
    if isinstance(x, int | float) and not isinstance(x, bool):
        return round(float(x), 9)
    return x


def has_path(obj: Any, path: str) -> bool:
    return _get(obj, path) is not _MISSING


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return _MISSING
        obj = obj[part]
    return obj


class JsonScorer(EvalScorer):
    """0 unless the answer is JSON that satisfies ``contract.schema`` (when given); then the share of
    ``contract.fields`` (default: every key of ``expected``; dotted paths reach into objects) whose
    value matches. An ``expected`` array must match as a whole; no ``expected``: validity alone."""

    name = "json"

    def score(self, task: Mapping[str, Any], answer: str) -> float:
        return self.explain(task, answer)[0]

    def explain(self, task: Mapping[str, Any], answer: str) -> tuple[float, str | None]:
        try:
            got = parse_json_answer(answer)
        except ValueError as err:
            return 0.0, str(err)
        contract = task.get("contract") or {}
        schema = contract.get("schema")
        if schema is not None and (errs := schema_errors(schema, got)):
            return 0.0, f"schema: {errs[0]}"
        want = task.get("expected")
        if want is None:
            return 1.0, None
        if not isinstance(want, dict):
            return (1.0, None) if values_match(got, want) else (0.0, "value differs")
        fields = list(contract.get("fields") or want.keys())
        if not fields:
            return 1.0, None
        wrong = [f for f in fields if (g := _get(got, f)) is _MISSING or not values_match(g, _get(want, f))]
        return 1.0 - len(wrong) / len(fields), (f"fields differ: {', '.join(wrong)}" if wrong else None)

    async def ascore(self, task: Mapping[str, Any], answer: str) -> Scored:
        score, detail = self.explain(task, answer)
        return Scored(score, detail=detail)
