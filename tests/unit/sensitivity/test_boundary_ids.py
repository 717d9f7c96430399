"""The boundary screen's identifiers, phones and addresses (no NER needed): format and checksum, any country."""

from __future__ import annotations

import pytest

from smallfirst.config.schema import ResidencyConfig
from smallfirst.sensitivity import Detector
from smallfirst.sensitivity.boundary import BoundaryScreen


@pytest.fixture(scope="module")
def screen() -> BoundaryScreen:
    return BoundaryScreen(Detector(), names=None)


@pytest.mark.parametrize(("text", "entity"), [
    ("my card 2131 0000 0000 0008 was declined", "credit_card"),  # JCB 2131: Luhn, no issuer list
    ("card 5018 0000 0009 (maestro, 12 digits)", "credit_card"),
    ("iban fr76 3000 6000 0112 3456 7890 189 please", "iban"),  # lower case
    ("call +41 (0)96 123 45 67 tomorrow", "phone"),  # trunk notation
    ("reach me on 0171 234 5678 x4587", "phone"),  # national, extension, no phone word
    ("My PESEL is 83071982596", "national_id"),
    ("CPF 253.660.082-39", "national_id"),
    ("codice fiscale VRCCCL47R16G698J", "national_id"),
    ("NIN ZZ 98 25 97 T", "national_id"),
    ("my driver's license number is WDL0MGBMBUMD", "drivers_license"),
    ("DL# F1833 54601 79382", "drivers_license"),
    ("passport details for my reservation: KW1831871", "passport_number"),
    ("Ship to 12 Rue de la Paix, 75002 Paris", "address"),
    ("Ekgatan 6\n512 90 Karlstad", "address"),
    ("ul. Floriana 60/12\n98-981 Luboń", "address"),
    ("90404 Larson Wells\nKleinchester, MO 95937", "address"),
    ("Meine Postleitzahl ist 28817, warum wird nicht geliefert?", "address"),
    ("Ich bin am 11.07.2020 geboren.", "date"),
])
def test_found(screen: BoundaryScreen, text: str, entity: str) -> None:
    assert entity in screen.detect_text(text).counts, (text, screen.detect_text(text))


@pytest.mark.parametrize("text", [
    "Why is 8237394061492374 (16 digits) not Luhn-valid? It fails the check.",  # not Luhn-valid
    "Unix timestamp 1535780406 - what date is that in UTC?",
    "Factor 116260942 into primes.",
    "const cfg = { host: '172.16.0.213', port: 5432 };",
    "In 1945 Germany surrendered; the war in Europe lasted from 1939-1945.",
    "Considering 0.5 moles of NaCl in 2 L of water",
    "version 10.0.19041 build 22631; uuid 123e4567-e89b-12d3-a456-426614174000",
    "The meeting took place on March 1 in the main hall.",
])
def test_not_found(screen: BoundaryScreen, text: str) -> None:
    assert not screen.detect_text(text).sensitive, (text, screen.detect_text(text))


def test_allowlist_mode_counts_any_long_number_and_date() -> None:
    strict = BoundaryScreen(Detector(), names=None, strict=True)
    assert strict.detect_text("order reference 48213377 placed 03/04/2024").sensitive
    assert not BoundaryScreen(Detector(), names=None).detect_text("order reference 48213377").sensitive


def test_entities_and_from_config_without_ner() -> None:
    s = BoundaryScreen.from_config(ResidencyConfig(ner=False, disabled_entities=["phone"]))
    assert not s.uses_ner and "phone" not in s.entities and "national_id" in s.entities
    assert "phone" not in s.detect_text("reach me on 0171 234 5678 x4587").counts
