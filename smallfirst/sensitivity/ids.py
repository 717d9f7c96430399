"""Structured identifiers found by format and checksum, not by issuer or country lists.

The boundary screen's identifier recognizers (see ``smallfirst.sensitivity.boundary``):

* payment cards: any 12–19 digit number (grouped or not) that passes Luhn, whatever its prefix;
* IBANs in any letter case, checked by ``python-stdnum``'s ISO 13616 / mod-97 validator;
* national ids that carry a checksum, validated by ``python-stdnum`` (US SSN, French NIR, Spanish
  DNI/NIE, Italian codice fiscale, Dutch BSN, Polish PESEL, Brazilian CPF, Swedish personnummer,
  Danish CPR, Swiss AHV, Indian Aadhaar, German IdNr, Canadian SIN, Finnish HETU, Norwegian
  fødselsnummer, Belgian national number, Irish PPS, Portuguese NIF) — and any id-shaped value right
  after an id label ("national insurance number", "BSN", "tax id" …), checksum or not;
* UK National Insurance numbers (format), US driver's licences and other licence numbers (after a
  licence label: the state formats overlap ordinary codes, so the label is required);
* phone numbers in every region libphonenumber knows: ``+``/``00`` numbers by their country's
  possible lengths, national numbers when they look like phone numbers (trunk prefix, phone
  grouping, extension) or follow a phone word.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from smallfirst.sensitivity.phones import _DATE_SHAPE
from smallfirst.sensitivity.recognizers import Hit
from smallfirst.sensitivity.validators import digits, luhn_ok

_CARD = re.compile(r"(?<![\w.,+/-])(?<!\d[ ])\d(?:[ -]?\d){11,18}(?![\w/-]|[.,]\d|[ ]\d)")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]{4}){2,7}(?:[ -]?[A-Za-z0-9]{1,3})?"
                   r"(?![A-Za-z0-9])")
# an id-shaped token: digits and letters with the separators national ids are printed with
# an id-shaped token: letters and digits, then digit groups joined by the separators ids are printed with
_ID_TOKEN = re.compile(r"(?<![\w.+/-])(?=[A-Za-z]{0,6}\d)[A-Za-z0-9]{2,18}(?:[ .-]\d[A-Za-z0-9]{0,7}){0,5}"
                       r"(?:[ .-][A-Za-z](?![\w]))?(?![\w/-]|[.,]\d)")
_NINO = re.compile(r"(?<![\w-])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-Z]"
                   r"(?![\w-])", re.IGNORECASE)
_ID_LABEL = re.compile(
    r"(?i:\b(?:national\s+(?:insurance|id(?:entity)?|identification)(?:\s+(?:number|no\.?|card))?|nin|nino|ssn|sin"
    r"|social\s+(?:security|insurance)(?:\s+(?:number|no\.?))?|tax\s*(?:id|number|no\.?|code)|tin|ein|itin|bsn"
    r"|burgerservicenummer|pesel|cpf|nir|insee|num[ée]ro\s+de\s+s[ée]curit[ée]\s+sociale|aadhaar|aadhar|pan"
    r"|steuer-?id|steuernummer|identifikationsnummer|sozialversicherungsnummer|personalausweis(?:nummer)?"
    r"|codice\s+fiscale|dni|nie|nif|personnummer|cpr|ahv|avs|hetu|f[øo]dselsnummer|pps|id\s*(?:card\s*)?"
    r"(?:number|no\.?|nr\.?|\#)|identity\s+(?:card|document)(?:\s+(?:number|no\.?))?|member(?:ship)?\s+(?:id|number)"
    r"|employee\s+(?:id|number)|customer\s+(?:id|number)|account\s+(?:number|no\.?)|policy\s+(?:number|no\.?)"
    r"|rentenversicherungsnummer|versichertennummer|krankenversicherungsnummer|svnr|sozialversicherung|bsn-nummer"
    r"|henkilötunnus|personnr|cpr-nummer|fiscal\s+code|numero\s+fiscale|cédula|curp|rfc)"
    r"(?:\s+(?:number|no\.?|nr\.?|num[ée]ro|nummer))?)\s*(?:[:#=]|\bis\b|\bwas\b|\bist\b|\best\b|\bes\b|\bé\b)?\s*$")
_LICENCE_LABEL = re.compile(
    r"(?i:\b(?:driver'?s?|driving|drivers)[\s_-]+licen[cs]e(?:[\s_-]+(?:number|no\.?|nr\.?|\#|id))?"
    r"|\bDL\b(?:\s*(?:no\.?|\#|number))?"
    r"|\blicen[cs]e\s+(?:number|no\.?|nr\.?|\#)|f[üu]hrerschein(?:nummer)?|permis\s+de\s+conduire|patente"
    r"|carn[ée]\s+de\s+conducir|rijbewijs(?:nummer)?|prawo\s+jazdy|k[öo]rkort)[\"'\s:#=]*(?:is\b|ist\b|est\b|es\b)?"
    r"[\s\"':]*(?:[\w']+[\s,:]+){0,6}$")
_PASSPORT_LABEL = re.compile(
    r"(?i:\bpassport(?:[\s_-]*(?:number|no\.?|nr\.?|\#|id|details))?|passeport|reisepass(?:nummer)?|pasaporte"
    r"|passaporto|paszport|passaporte|passi)[\"'\s:#=]*(?:is\b|ist\b|est\b|es\b)?[\s\"':]*(?:[\w']+[\s,:]+){0,6}$")
_LICENCE_VALUE = re.compile(r"(?<![\w-])(?:WDL[A-Z0-9*]{9}(?![\w-])|(?=[A-Za-z0-9 -]*\d)[A-Za-z0-9]"
                            r"(?:[A-Za-z0-9-]|[ ](?=\d)){4,22}[A-Za-z0-9](?![\w-]))")
_LABEL_WINDOW = 48
_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_MATH_BEFORE = re.compile(r"(?i:\b(?:factor|factori[sz]e|prime|primes|compute|calculate|convert|sum|multiply|divide"
                          r"|modulo|mod|digits|number\s+of|square|root|binary|hex|decimal|is\s+\d+\s+divisible))\W+"
                          r"(?:\w+\W+){0,2}$")

# national-id validators from python-stdnum: module path (each has is_valid(str) -> bool)
STDNUM_IDS: tuple[str, ...] = (
    "us.ssn", "fr.nir", "es.dni", "es.nie", "it.codicefiscale", "nl.bsn", "pl.pesel", "br.cpf",
    "se.personnummer", "dk.cpr", "ch.ssn", "in_.aadhaar", "de.idnr", "ca.sin", "fi.hetu",
    "no.fodselsnummer", "be.nn", "ie.pps", "pt.nif", "cz.rc", "mx.curp",
)


def _stdnum_validators(names: Sequence[str]) -> list[Callable[[str], bool]]:
    out: list[Callable[[str], bool]] = []
    for name in names:
        mod = importlib.import_module(f"stdnum.{name}")
        out.append(mod.is_valid)
    return out


def card_any_prefix(s: str) -> bool:
    ds = digits(s)
    return 12 <= len(ds) <= 19 and ds[0] != "0" and len(set(ds)) > 2 and luhn_ok(ds)


@dataclass(frozen=True, slots=True)
class CardRecognizer:
    """Luhn-valid 12–19 digit numbers of any prefix (grouped by spaces or dashes or not)."""

    entity: str = "credit_card"

    def find(self, text: str, lower: str) -> Iterator[Hit]:
        for m in _CARD.finditer(text):
            if card_any_prefix(m.group()):
                yield m.start(), m.end(), m.start(), m.end()


@dataclass(frozen=True, slots=True)
class IbanRecognizer:
    """IBANs in any case, grouped by spaces or dashes or not, validated by python-stdnum."""

    entity: str = "iban"
    _valid: Callable[[str], bool] = field(default_factory=lambda: _stdnum_validators(["iban"])[0])

    def find(self, text: str, lower: str) -> Iterator[Hit]:
        for m in _IBAN.finditer(text):
            if self._valid(m.group().upper()):
                yield m.start(), m.end(), m.start(), m.end()


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while end > start and text[end - 1] in " .-":
        end -= 1
    return start, end


@dataclass(slots=True)
class NationalIdRecognizer:
    """National ids by checksum (python-stdnum), UK NINOs by format, and any id-shaped value after an id label."""

    entity: str = "national_id"
    modules: tuple[str, ...] = STDNUM_IDS
    _validators: list[Callable[[str], bool]] = field(init=False)

    def __post_init__(self) -> None:
        self._validators = _stdnum_validators(self.modules)

    def _checksum_ok(self, value: str) -> bool:
        compact = value.replace(" ", "").replace(".", "").replace("-", "")
        if len(compact) < 8 or len(set(compact)) < 3:
            return False
        for valid in self._validators:
            try:
                if valid(value) or valid(compact):
                    return True
            except Exception:  # a validator that cannot parse this shape says no
                continue
        return False

    def find(self, text: str, lower: str) -> Iterator[Hit]:
        for m in _NINO.finditer(text):
            yield m.start(), m.end(), m.start(), m.end()
        for m in _ID_TOKEN.finditer(text):
            s, e = _trim(text, m.start(), m.end())
            value = text[s:e]
            labelled = _ID_LABEL.search(text[max(0, s - _LABEL_WINDOW):s]) is not None
            if (labelled and sum(ch.isdigit() for ch in value) >= 5) or (
                    self._checksum_ok(value) and not _looks_like_date_or_number(value)
                    and _DATE_SHAPE.fullmatch(value) is None and _QUAD.fullmatch(value) is None
                    and _MATH_BEFORE.search(text[max(0, s - 24):s]) is None):
                yield s, e, s, e


_DECIMALISH = re.compile(r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d+)?|\d+[.,]\d+")


def _looks_like_date_or_number(value: str) -> bool:
    """A thousands-grouped or decimal number (``1.234.567``) is a quantity, not an id."""
    return _DECIMALISH.fullmatch(value) is not None and value.count(".") != 3


@dataclass(frozen=True, slots=True)
class LabelledRecognizer:
    """An id-shaped value (letters, digits, dashes; a digit at least) within a few words after its label:
    licence and passport numbers, whose formats alone look like any code."""

    entity: str
    label: re.Pattern[str]
    words: tuple[str, ...]  # one must occur in the lower-cased text (a cheap pre-filter)

    def find(self, text: str, lower: str) -> Iterator[Hit]:
        if not any(w in lower for w in self.words):
            return
        for m in _LICENCE_VALUE.finditer(text):
            if self.label.search(text[max(0, m.start() - _LABEL_WINDOW):m.start()]):
                yield m.start(), m.end(), m.start(), m.end()


def licence() -> LabelledRecognizer:
    return LabelledRecognizer("drivers_license", _LICENCE_LABEL, ("lic", "dl", "führerschein", "fuhrerschein", "permis",
                              "patente", "carné", "carne", "rijbewijs", "prawo", "körkort", "korkort"))


def passport() -> LabelledRecognizer:
    return LabelledRecognizer("passport_number", _PASSPORT_LABEL, ("pass", "pasap", "paszport"))
