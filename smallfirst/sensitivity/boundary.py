"""The boundary screen: the thorough detector that runs only when a request is about to leave the host.

The router's cheap pass (``Detector``, tens of microseconds) runs on every request and feeds the
signals. A request that stays on this host needs no more. Before any call to an endpoint that is not
on this host — the first answer, a retry, a fallback, an escalation, a cascade sample, verifier or
judge call — the engine asks this screen, which adds what the cheap pass cannot afford:

* identifiers by format and checksum (``ids``: any-prefix Luhn cards, IBANs in any case, national ids
  through ``python-stdnum``, licence numbers after a label), phone numbers of every region
  (``phones_intl``), street addresses and postcodes of many countries (``places``);
* names and places through spaCy NER plus the cues people write (``names``).

It costs milliseconds (NER), paid only where a remote round trip of hundreds of milliseconds follows.
Results are cached per string (a conversation resends its earlier turns), bounded in size.

``strict`` (``residency.mode = "allowlist"``): a request may leave only when the screen is sure it holds
no personal data — every NER name or place counts (quiz questions included), and so does any run of
six or more digits and any calendar date.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

from smallfirst.config.schema import ResidencyConfig
from smallfirst.core.findings import NO_FINDINGS, Findings, Span
from smallfirst.core.types import ChatRequest
from smallfirst.sensitivity.detector import Detector
from smallfirst.sensitivity.ids import CardRecognizer, IbanRecognizer, NationalIdRecognizer, licence, passport
from smallfirst.sensitivity.names import NameFinder, is_personal, personal_dates
from smallfirst.sensitivity.phones_intl import DEFAULT_REGIONS, IntlPhoneRecognizer
from smallfirst.sensitivity.places import PostcodeRecognizer, StreetRecognizer
from smallfirst.sensitivity.recognizers import Recognizer
from smallfirst.sensitivity.walk import strings

_STRICT_NUMBER = re.compile(r"(?<![\w.])\d(?:[ .-]?\d){5,}(?![\w])")
_STRICT_DATE = re.compile(r"\b(?:\d{1,2}[./-]\d{1,2}[./-](?:19|20)\d\d|(?:19|20)\d\d-\d{1,2}-\d{1,2})\b")
_CACHE_SIZE = 4096
_CACHE_MAX_CHARS = 64 * 1024


def boundary_recognizers(regions: Sequence[str] = DEFAULT_REGIONS) -> list[Recognizer]:
    """The identifier, phone and address recognizers the boundary adds to the cheap pass, in claim order."""
    return [IbanRecognizer(), CardRecognizer(), passport(), licence(), NationalIdRecognizer(),
            IntlPhoneRecognizer(tuple(regions)), StreetRecognizer(), PostcodeRecognizer()]


class BoundaryScreen:
    """The cheap detector's findings plus identifiers, phones, addresses, names and places (see module doc)."""

    __slots__ = ("_cache", "_disabled", "_fast", "_lock", "_names", "_recognizers", "strict")

    def __init__(self, fast: Detector, *, names: NameFinder | None, regions: Sequence[str] = DEFAULT_REGIONS,
                 disabled: frozenset[str] = frozenset(), strict: bool = False) -> None:
        self._fast = fast
        self._names = names
        self._disabled = disabled
        self._recognizers = tuple(r for r in boundary_recognizers(regions) if r.entity not in disabled)
        self.strict = strict
        self._cache: OrderedDict[str, tuple[Span, ...]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, cfg: ResidencyConfig, fast: Detector | None = None) -> BoundaryScreen:
        """Built from ``[residency]``: loads the NER pipeline now (not per request) when ``ner`` is on."""
        off = frozenset(cfg.disabled_entities)
        fast = fast if fast is not None else Detector.from_config(cfg)
        names = NameFinder.load(cfg.ner_model) if cfg.ner and not {"person", "location"} <= off else None
        regions = tuple(dict.fromkeys([*cfg.phone_regions, *DEFAULT_REGIONS]))
        return cls(fast, names=names, regions=regions, disabled=off, strict=cfg.mode == "allowlist")

    @property
    def uses_ner(self) -> bool:
        return self._names is not None

    @property
    def entities(self) -> tuple[str, ...]:
        names = set(self._fast.entities) | {r.entity for r in self._recognizers} | ({"date"} - self._disabled)
        if self._names is not None:
            names |= {"person", "location", "address"} - self._disabled
        return tuple(sorted(names))

    def _structured(self, text: str) -> list[Span]:
        spans = self._fast.scan(text)
        claimed = [(s.start, s.end) for s in spans]
        lower = text.lower()
        for rec in self._recognizers:
            for c0, c1, s0, s1 in rec.find(text, lower):
                if any(c0 < b and a < c1 for a, b in claimed):
                    continue
                claimed.append((c0, c1))
                spans.append(Span(s0, s1, rec.entity))
        if self.strict:
            for rx, entity in ((_STRICT_NUMBER, "national_id"), (_STRICT_DATE, "date_of_birth")):
                for m in rx.finditer(text):
                    if not any(m.start() < b and a < m.end() for a, b in claimed):
                        claimed.append(m.span())
                        spans.append(Span(m.start(), m.end(), entity))
        return spans

    def _people(self, text: str, spans: list[Span], personal: bool) -> list[Span]:
        claimed = [(s.start, s.end) for s in spans]
        if "date" not in self._disabled:
            for s0, s1 in personal_dates(text, personal or self.strict or is_personal(text)):
                if not any(s0 < b and a < s1 for a, b in claimed):
                    claimed.append((s0, s1))
                    spans.append(Span(s0, s1, "date"))
        if self._names is None:
            return spans
        for s0, s1, entity in self._names.find(text, personal_hint=personal or self.strict, strict=self.strict):
            if entity in self._disabled or any(s0 < b and a < s1 for a, b in claimed):
                continue
            claimed.append((s0, s1))
            spans.append(Span(s0, s1, entity))
        return spans

    def scan(self, text: str, *, personal: bool = False, structured: list[Span] | None = None) -> list[Span]:
        """Every finding in ``text`` (offsets only), ordered by position. ``personal``: the request holds
        other personal data, so a lone first name or a city counts as well. ``structured``: this text's
        identifier findings when the caller has them already."""
        key = f"{int(personal)}{text}" if len(text) <= _CACHE_MAX_CHARS else None
        if key is not None:
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    return list(hit)
        spans = list(structured) if structured is not None else self._structured(text)
        spans = self._people(text, spans, personal or bool(spans))
        spans.sort(key=lambda s: s.start)
        if key is not None:
            with self._lock:
                self._cache[key] = tuple(spans)
                if len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return spans

    def detect_text(self, text: str) -> Findings:
        return Findings.from_spans(self.scan(text))

    def detect(self, request: ChatRequest) -> Findings:
        """Entity types and counts over every text string of ``request`` (strings of two characters or more)."""
        texts = strings(request, min_len=2)
        counts: dict[str, int] = {}
        with self._lock:
            cached = [self._cache.get(f"0{t}") for t in texts]
        if all(c is not None for c in cached) and not any(cached):
            return NO_FINDINGS  # every string screened before and clean (a conversation's earlier turns)
        # structured ids first: any of them makes the whole request personal
        structured = {t: self._structured(t) for t in texts}
        personal = any(structured.values())
        for text in texts:
            for span in self.scan(text, personal=personal, structured=structured[text]):
                counts[span.entity] = counts.get(span.entity, 0) + 1
        return Findings.from_counts(counts) if counts else NO_FINDINGS
