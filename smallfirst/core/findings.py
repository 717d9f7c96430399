"""What the detector found: entity types and counts, never the matched text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# data classes a finding can belong to; the residency policy is configured per data class
PII = "pii"
PHI = "phi"
SECRET = "secret"
FINANCIAL = "financial"
DATA_CLASSES: tuple[str, ...] = (PII, PHI, SECRET, FINANCIAL)

# entity type -> data class (secret entities are all named ``secret.<kind>``)
ENTITY_CLASS: Mapping[str, str] = {
    "email": PII,
    "phone": PII,
    "ssn": PII,
    "ip_address": PII,
    "date_of_birth": PII,
    "passport_number": PII,
    "address": PII,
    "person": PII,
    "location": PII,
    "national_id": PII,
    "drivers_license": PII,
    "date": PII,
    "nhs_number": PHI,
    "medical_record_number": PHI,
    "credit_card": FINANCIAL,
    "iban": FINANCIAL,
}


def data_class_of(entity: str) -> str:
    """The data class of an entity type (``secret.*`` → ``secret``; unknown types count as ``pii``)."""
    if entity.startswith("secret."):
        return SECRET
    return ENTITY_CLASS.get(entity, PII)


@dataclass(frozen=True, slots=True)
class Span:
    """Where one entity sits in one scanned string: offsets only, no text."""

    start: int
    end: int
    entity: str


@dataclass(frozen=True, slots=True)
class Findings:
    """Entity types and their counts over a whole request, plus the data classes they fall in.

    Holds no matched text at all, so ``repr``/``str``/``to_json`` are safe to log.
    """

    entities: tuple[tuple[str, int], ...] = ()
    data_classes: tuple[str, ...] = ()

    @classmethod
    def from_counts(cls, counts: Mapping[str, int]) -> Findings:
        items = tuple(sorted((e, n) for e, n in counts.items() if n > 0))
        classes = tuple(sorted({data_class_of(e) for e, _ in items}))
        return cls(entities=items, data_classes=classes)

    @classmethod
    def from_spans(cls, spans: Iterable[Span]) -> Findings:
        counts: dict[str, int] = {}
        for s in spans:
            counts[s.entity] = counts.get(s.entity, 0) + 1
        return cls.from_counts(counts)

    @property
    def counts(self) -> dict[str, int]:
        """``{"email": 2, "secret.openai_key": 1, ...}`` (a fresh dict)."""
        return dict(self.entities)

    @property
    def sensitive(self) -> bool:
        return bool(self.entities)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.entities)

    def by_class(self) -> dict[str, dict[str, int]]:
        """``{"pii": {"email": 2}, "secret": {"secret.jwt": 1}}``."""
        out: dict[str, dict[str, int]] = {}
        for e, n in self.entities:
            out.setdefault(data_class_of(e), {})[e] = n
        return out

    def merged(self, other: Findings) -> Findings:
        counts = self.counts
        for e, n in other.entities:
            counts[e] = counts.get(e, 0) + n
        return Findings.from_counts(counts)

    def to_json(self) -> dict[str, object]:
        """A log-safe summary: ``{"classes": [...], "entities": {...}}``."""
        return {"classes": list(self.data_classes), "entities": self.counts}

    def __str__(self) -> str:
        if not self.entities:
            return "none"
        return ", ".join(f"{e}×{n}" for e, n in self.entities)


NO_FINDINGS = Findings()
