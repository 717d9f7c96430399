"""A compiled task contract and the format checks of an answer against it.

Rejection reasons (the outcome recorded for the rejected attempt):

==================  ==============================================================
``empty_answer``    no text (and no tool call)
``refusal``         a refusal marker ("I'm sorry, I can't …") and the format failed
``uncertain``       an uncertainty marker ("I'm not sure …") and the format failed
``truncated``       the answer hit max_tokens and the format failed
``too_long``        longer than ``max_chars``
``label_not_allowed``  not one of ``labels``
``invalid_json``    the contract wants JSON and the answer does not parse
``schema_invalid``  JSON that fails ``json_schema``
``missing_field``   JSON without a ``required`` field
``regex_mismatch``  the trimmed answer does not fully match ``regex``
==================  ==============================================================

Free-text contracts (no labels, no JSON) reject any refusal or uncertainty marker; for labels and
JSON a marker only names the reason of a format failure (a valid label is not a refusal).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smallfirst.config.cascade import ContractSpec, validator_class

MARKER_WINDOW = 300  # markers are looked for in the answer's first characters
_STRIP = " \t\r\n\"'`*"
_TRAIL = ".!;:"


def _norm(text: str, case_sensitive: bool) -> str:
    t = text.strip(_STRIP).rstrip(_TRAIL).strip(_STRIP)
    return t if case_sensitive else t.casefold()


@dataclass(frozen=True)
class Markers:
    refusal: re.Pattern[str] | None
    uncertainty: re.Pattern[str] | None

    @classmethod
    def compile(cls, refusal: Sequence[str], uncertainty: Sequence[str]) -> Markers:
        def one(ms: Sequence[str]) -> re.Pattern[str] | None:
            return re.compile("|".join(f"(?:{m})" for m in ms), re.IGNORECASE) if ms else None

        return cls(one(refusal), one(uncertainty))

    def find(self, text: str) -> str | None:
        head = text[:MARKER_WINDOW].replace("\u2019", "'")
        if self.refusal is not None and self.refusal.search(head):
            return "refusal"
        if self.uncertainty is not None and self.uncertainty.search(head):
            return "uncertain"
        return None


@dataclass(frozen=True)
class Contract:
    """A contract ready to check answers (validators and regexes compiled once)."""

    spec: ContractSpec
    name: str | None = None
    _labels: Mapping[str, str] | None = None  # normalised → declared spelling
    _validator: Any = None
    _pattern: re.Pattern[str] | None = None

    @classmethod
    def compile(cls, spec: ContractSpec, name: str | None = None) -> Contract:
        labels = None
        if spec.labels is not None:
            labels = {_norm(lab, spec.case_sensitive): lab for lab in spec.labels}
        validator = None
        if spec.json_schema is not None:
            vc = validator_class(spec.json_schema)
            validator = vc(spec.json_schema, format_checker=vc.FORMAT_CHECKER)
        pattern = re.compile(spec.regex, re.DOTALL) if spec.regex is not None else None
        return cls(spec, name, labels, validator, pattern)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.spec.labels or ())

    @property
    def wants_json(self) -> bool:
        return self.spec.json_schema is not None or bool(self.spec.required)

    @property
    def confidence_method(self) -> str:
        if self.spec.confidence != "auto":
            return self.spec.confidence
        return "label" if self.spec.labels else "mean"

    def label_of(self, text: str) -> str | None:
        """The declared label an answer names (after trimming quotes, spaces, a final full stop), or None."""
        if self._labels is None:
            return None
        t = text.strip()
        if t.startswith('"'):  # a JSON string, as label-constrained output is
            try:
                inner = json.loads(t)
            except json.JSONDecodeError:
                inner = None
            t = inner if isinstance(inner, str) else t
        return self._labels.get(_norm(t, self.spec.case_sensitive))

    def canonical(self, text: str) -> str:
        """A form in which equal answers compare equal (for self-consistency)."""
        if self._labels is not None:
            return self.label_of(text) or _norm(text, self.spec.case_sensitive)
        if self.wants_json:
            try:
                return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
            except json.JSONDecodeError:
                return text.strip()
        return " ".join(text.split())

    def check_format(self, text: str, finish_reason: str, markers: Markers | None) -> str | None:
        """The first format failure of ``text`` (a reason from the module docstring), or None."""
        reason = self._format(text)
        marker = markers.find(text) if markers is not None and self.spec.refusal else None
        if reason is None:
            structured = self._labels is not None or self.wants_json
            return None if structured or marker is None else marker
        if reason == "empty_answer":
            return reason
        if marker is not None:
            return marker
        return "truncated" if finish_reason == "length" else reason

    def _format(self, text: str) -> str | None:
        s = self.spec
        if not text.strip():
            return "empty_answer"
        if s.max_chars is not None and len(text.strip()) > s.max_chars:
            return "too_long"
        if self._labels is not None and self.label_of(text) is None:
            return "label_not_allowed"
        if self.wants_json:
            try:
                value = json.loads(_unfence(text))
            except json.JSONDecodeError:
                return "invalid_json"
            if self._validator is not None and not self._validator.is_valid(value):
                return "schema_invalid"
            if s.required and any(not _has(value, path) for path in s.required):
                return "missing_field"
        if self._pattern is not None and self._pattern.fullmatch(text.strip()) is None:
            return "regex_mismatch"
        return None

    def schema_errors(self, text: str) -> list[str]:
        """Readable schema errors of a JSON answer (for reports and tests)."""
        if self._validator is None:
            return []
        try:
            value = json.loads(_unfence(text))
        except json.JSONDecodeError as err:
            return [f"not JSON: {err.msg}"]
        return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
                for e in self._validator.iter_errors(value)]


def _unfence(text: str) -> str:
    """JSON inside a Markdown code fence (models often add one) → the JSON text."""
    t = text.strip()
    if t.startswith("```"):
        t = t[3:]
        t = t[t.find("\n") + 1:] if "\n" in t else t
        t = t.rstrip()
        if t.endswith("```"):
            t = t[:-3]
    return t


def _has(value: Any, path: str) -> bool:
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value or value[part] is None:
            return False
        value = value[part]
    return True
