"""What the detector can and cannot see: the basis of any evidence built on its findings.

Residency evidence ("0 of N sensitive requests left this host") counts the requests the detector
*flagged*. It is only as good as the detector: :func:`coverage` says which entity types the configured
detector looks for (and which it does not), and :func:`eval_results` reads the recall measured on the
bundled evaluation set (``data/pii-eval-results.json``, written by the evaluation run), or ``None`` when
it was not measured. Neither loads a model: the NER pipeline is not loaded to list its entity types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from smallfirst.config.schema import ResidencyConfig

EVAL_RESULTS = Path(__file__).parent / "data" / "pii-eval-results.json"


@dataclass(frozen=True)
class EvalResults:
    """Recall of the detector measured on a named evaluation set (missing keys read as empty)."""

    set: str
    date: str | None = None
    overall: float | None = None  # recall over every planted value (``recall_any``)
    group_recall: Mapping[str, float] = field(default_factory=dict)  # e.g. structured, names_places
    type_recall: Mapping[str, float] = field(default_factory=dict)  # entity type -> recall
    benign_flagged: Mapping[str, float] = field(default_factory=dict)  # false positives on benign text
    source: str = ""  # the file it was read from

    def summary(self) -> str:
        """``measured recall on <set> (<date>): structured 0.97, names_places 0.41``."""
        when = f" ({self.date})" if self.date else ""
        parts = ([f"overall {self.overall:.2f}"] if self.overall is not None else []) + [
            f"{k} {v:.2f}" for k, v in self.group_recall.items()]
        return f"measured recall on {self.set}{when}: {', '.join(parts) or 'no recall recorded'}"


def _rate(v: Any) -> float | None:
    """A number, or the ``rate`` of a ``{"hits", "total", "rate"}`` object; else ``None``."""
    if isinstance(v, dict):
        v = v.get("rate")
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _numbers(value: Any) -> dict[str, float]:
    """The entries of a JSON object that are rates (anything else is skipped)."""
    if not isinstance(value, dict):
        return {}
    return {str(k): r for k, v in value.items() if (r := _rate(v)) is not None}


def _first(raw: dict[str, Any], *keys: str) -> Any:
    return next((raw[k] for k in keys if k in raw), None)


def eval_results(path: Path | None = None) -> EvalResults | None:
    """The measured recall (``pii-eval-results.json``), or ``None`` when the file is absent or unreadable."""
    p = EVAL_RESULTS if path is None else path
    try:
        raw = orjson.loads(p.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(raw, dict):
        return None
    date = raw.get("date")
    return EvalResults(set=str(raw.get("set") or p.name), date=None if date is None else str(date),
                       overall=_rate(raw.get("recall_any")), group_recall=_numbers(raw.get("group_recall")),
                       type_recall=_numbers(_first(raw, "type_recall", "per_type_recall")),
                       benign_flagged=_numbers(_first(raw, "benign_flagged", "benign_flagged_share")), source=str(p))


@dataclass(frozen=True)
class Coverage:
    """The entity types the configured detector looks for, and the known types it does not."""

    enabled: bool  # residency.enabled: is anything detected at all
    entities: tuple[str, ...]  # patterns and validators (the default detectors, less the disabled ones)
    ner: bool  # residency.ner: names, places via spaCy NER
    ner_entities: tuple[str, ...]
    not_detected: tuple[str, ...]  # known entity types neither finds (disabled, or NER off)

    @property
    def all_entities(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.entities) | set(self.ner_entities)))


def coverage(cfg: ResidencyConfig) -> Coverage:
    """What ``Detector.from_config(cfg)`` looks for (the NER pipeline is not loaded to say so)."""
    from smallfirst.sensitivity.detector import Detector, known_entities
    from smallfirst.sensitivity.ner import LABELS

    if not cfg.enabled:
        return Coverage(False, (), False, (), tuple(sorted(known_entities())))
    entities = Detector.from_config(cfg.model_copy(update={"ner": False})).entities
    off = set(cfg.disabled_entities)
    ner_entities = tuple(sorted(set(LABELS.values()) - off)) if cfg.ner else ()
    seen = set(entities) | set(ner_entities)
    return Coverage(True, entities, cfg.ner, ner_entities, tuple(sorted(known_entities() - seen)))
