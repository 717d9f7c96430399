"""The sensitivity detector: every text string of a request → entity types and counts.

Recognizers run in claim order — secrets, then checksum-validated identifiers, then context-bound
ones, then phone numbers, then (optionally) NER — and a later recognizer never reports text an
earlier one already claimed, so one IBAN is never also a phone number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from smallfirst.config.schema import ResidencyConfig
from smallfirst.core.errors import ConfigError
from smallfirst.core.findings import NO_FINDINGS, Findings, Span
from smallfirst.core.types import ChatRequest
from smallfirst.sensitivity.ner import LABELS, SpacyNer
from smallfirst.sensitivity.phones import PhoneRecognizer
from smallfirst.sensitivity.recognizers import DIGIT_ENTITIES, HAS_DIGIT, Recognizer, default_structured
from smallfirst.sensitivity.redaction import RedactionMap, mask
from smallfirst.sensitivity.secret_patterns import secret_recognizers
from smallfirst.sensitivity.walk import map_strings, strings
from smallfirst.signals.literals import literal_union


def default_recognizers(phone_regions: Sequence[str] = ("US", "GB", "DE", "FR")) -> list[Recognizer]:
    """The built-in regex/validator recognizers, in claim order."""
    return [*secret_recognizers(), *default_structured(), PhoneRecognizer(tuple(phone_regions))]


def known_entities() -> frozenset[str]:
    """Every entity type a detector (the cheap pass or the boundary screen) can report."""
    return frozenset({r.entity for r in default_recognizers()} | set(LABELS.values())
                     | {"national_id", "drivers_license", "credit_card", "iban", "date"})


def _gate(no_digit: Sequence[Recognizer]) -> re.Pattern[str] | None:
    """Any needle of the digit-free recognizers, lower-cased, to search in the lower-cased text (a
    superset of what they test), or None when one of them has no needles (then every text is scanned)."""
    needles: list[str] = []
    for r in no_digit:
        found = getattr(r, "needles", ())
        if not found:
            return None
        needles.extend(found)
    return literal_union({n.lower() for n in needles}) if needles else None


class Detector:
    """Finds sensitive entities in requests and strings. Stateless after construction; thread-safe."""

    __slots__ = ("_gate", "_ner", "_no_digit", "_recognizers")

    def __init__(self, recognizers: Sequence[Recognizer] | None = None, *, disabled: Iterable[str] = (),
                 ner: SpacyNer | None = None) -> None:
        off = frozenset(disabled)
        unknown = off - known_entities()
        if unknown:
            raise ConfigError(f"residency.disabled_entities: unknown entity type(s) {', '.join(sorted(unknown))}",
                              hint=f"known types: {', '.join(sorted(known_entities()))}")
        recs = default_recognizers() if recognizers is None else list(recognizers)
        self._recognizers: tuple[Recognizer, ...] = tuple(r for r in recs if r.entity not in off)
        self._no_digit = tuple(r for r in self._recognizers if r.entity not in DIGIT_ENTITIES)
        self._gate = _gate(self._no_digit)
        self._ner = ner

    @classmethod
    def from_config(cls, cfg: ResidencyConfig) -> Detector:
        """The cheap pass built from ``[residency]`` (no NER: names and places are the boundary screen's job,
        see ``smallfirst.sensitivity.boundary``)."""
        return cls(default_recognizers(cfg.phone_regions), disabled=frozenset(cfg.disabled_entities))

    @property
    def entities(self) -> tuple[str, ...]:
        names = {r.entity for r in self._recognizers}
        return tuple(sorted(names))

    @property
    def uses_ner(self) -> bool:
        return self._ner is not None

    def scan(self, text: str) -> list[Span]:
        """Non-overlapping findings in ``text``, ordered by position (offsets only, no text)."""
        claimed: list[tuple[int, int]] = []
        spans: list[Span] = []
        lower = text.lower()
        if HAS_DIGIT.search(text) is not None:
            recognizers = self._recognizers
        elif self._gate is not None and self._ner is None and self._gate.search(lower) is None:
            return spans  # no digit and no recognizer's needle: nothing can match (one scan, not one per rule)
        else:
            recognizers = self._no_digit
        for rec in recognizers:
            for c0, c1, s0, s1 in rec.find(text, lower):
                if any(c0 < b and a < c1 for a, b in claimed):
                    continue
                claimed.append((c0, c1))
                spans.append(Span(s0, s1, rec.entity))
        if self._ner is not None:
            for s0, s1, entity in self._ner.find_typed(text):
                if not any(s0 < b and a < s1 for a, b in claimed):
                    claimed.append((s0, s1))
                    spans.append(Span(s0, s1, entity))
        spans.sort(key=lambda s: s.start)
        return spans

    def detect_text(self, text: str) -> Findings:
        return Findings.from_spans(self.scan(text))

    def detect(self, request: ChatRequest) -> Findings:
        """Entity types and counts over every text string of ``request`` (see ``walk.strings``)."""
        counts: dict[str, int] = {}
        for text in strings(request):
            for span in self.scan(text):
                counts[span.entity] = counts.get(span.entity, 0) + 1
        return Findings.from_counts(counts) if counts else NO_FINDINGS

    def redact(self, text: str, mapping: RedactionMap | None = None) -> tuple[str, RedactionMap]:
        """``(masked_text, mapping)``: each finding replaced by a placeholder such as ``[EMAIL_1]``."""
        mapping = mapping if mapping is not None else RedactionMap()
        return mask(text, self.scan(text), mapping), mapping

    def redact_request(self, request: ChatRequest) -> tuple[ChatRequest, RedactionMap]:
        """A copy of ``request`` with every finding in every string masked, and the one shared mapping."""
        mapping = RedactionMap()
        masked = map_strings(request, lambda s: mask(s, self.scan(s), mapping))
        return masked, mapping
