"""Regex recognizers for structured personal, health and financial identifiers.

A recognizer finds candidates with one compiled regex, skips texts that lack its cheap "needle"
substrings, and keeps only candidates its validator accepts (checksums, ranges, real dates).
Identifiers that are ambiguous on their own (dates of birth, medical record and passport numbers,
NHS numbers, bare 9-digit SSNs) are recognised only after a context phrase such as "DOB:".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from smallfirst.sensitivity import validators as V

Hit = tuple[int, int, int, int]  # (claim start, claim end, finding start, finding end)

# Entities whose every pattern needs at least one ASCII digit (numbers, dates, house numbers,
# postcodes, addresses of hosts): a string without a digit skips them all (the hot-path gate).
DIGIT_ENTITIES = frozenset({"iban", "credit_card", "ssn", "nhs_number", "medical_record_number", "passport_number",
                            "date_of_birth", "ip_address", "address", "phone"})
HAS_DIGIT = re.compile(r"[0-9]")


class Recognizer(Protocol):
    """Finds one entity type in a string."""

    @property
    def entity(self) -> str:
        """The entity type reported, e.g. ``email`` or ``secret.jwt``."""

    def find(self, text: str, lower: str) -> Iterator[Hit]:
        """Hits in ``text`` (``lower`` is ``text.lower()``, computed once per string)."""


@dataclass(frozen=True, slots=True)
class RegexRecognizer:
    """One regex, an optional validator on the reported group, and cheap pre-filters.

    The whole match is claimed (so later recognizers do not re-report parts of it); the finding is
    the span of ``group``. ``needles``: substrings of which one must occur; ``requires``: a regex that
    must match somewhere in any text ``pattern`` matches in (a necessary condition that ``re`` can test
    faster, e.g. one starting with a character class) — both only skip texts that cannot match.
    """

    entity: str
    pattern: re.Pattern[str]
    group: int = 0
    validate: Callable[[str], bool] | None = None
    needles: tuple[str, ...] = ()  # any must occur in the text; matched against ``lower`` if ``lower_needles``
    lower_needles: bool = False
    requires: str = ""
    _requires_rx: re.Pattern[str] | None = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_requires_rx", re.compile(self.requires) if self.requires else None)

    def find(self, text: str, lower: str) -> Iterator[Hit]:
        if self.needles:  # a few ``in`` tests are cheaper than one regex alternation
            hay = lower if self.lower_needles else text
            for needle in self.needles:
                if needle in hay:
                    break
            else:
                return
        if self._requires_rx is not None and self._requires_rx.search(text) is None:
            return
        for m in self.pattern.finditer(text):
            value = m.group(self.group)
            if value is None or (self.validate is not None and not self.validate(value)):
                continue
            yield m.start(), m.end(), m.start(self.group), m.end(self.group)


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags | re.VERBOSE)


_SEP = r"[ \-]"  # separators allowed inside grouped card / account numbers
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DATE = (rf"(\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}"
         rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?i:{_MONTH})\.?,?\s+\d{{4}}"
         rf"|(?i:{_MONTH})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})")
_COLON = r"\s*(?:[:#=]|\bis\b|\bwas\b)?\s*"  # "DOB: ", "MRN #", "passport number is "


def email() -> RegexRecognizer:
    return RegexRecognizer(
        "email",
        _rx(r"""(?<![\w.%+-])[^\W_][\w.%+-]{0,63}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+
                (?!(?:png|jpe?g|gif|svg|webp|ico|bmp|tiff?)\b)[^\W\d_]{2,24}\b"""),
        validate=lambda s: not s.lower().startswith("git@"),
        needles=("@",),
    )


def credit_card() -> RegexRecognizer:
    return RegexRecognizer(
        "credit_card",
        _rx(rf"(?<![\w.,+-])(?<!\d[ ])(?=\d{{4}}[ -]?\d)(?:\d{_SEP}?){{12,18}}\d(?![\w-]|[.,]\d|[ ]\d)"),
        validate=V.card_ok, requires=r"\d\d\d\d",
    )


def iban() -> RegexRecognizer:
    return RegexRecognizer(
        "iban",
        _rx(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"),
        validate=V.iban_ok, requires=r"[A-Z][A-Z]\d\d",
    )


def ssn() -> list[RegexRecognizer]:
    formatted = RegexRecognizer(
        "ssn", _rx(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"), validate=V.ssn_ok, needles=("-",),
        requires=r"\d-\d\d-\d",
    )
    in_context = RegexRecognizer(
        "ssn",
        _rx(rf"""(?i:\b(?:ssn|social\s+security(?:\s+(?:number|no\.?|\#))?)){_COLON}
                 (\d{{3}}[ -]?\d{{2}}[ -]?\d{{4}})(?![\w-])"""),
        group=1, validate=V.ssn_ok, needles=("ssn", "social security"), lower_needles=True,
    )
    return [formatted, in_context]


def nhs_number() -> RegexRecognizer:
    return RegexRecognizer(
        "nhs_number",
        _rx(rf"(?i:\bnhs\s*(?:number|no\.?|num|\#)?){_COLON}(\d{{3}}[ -]?\d{{3}}[ -]?\d{{4}})(?![\w-])"),
        group=1, validate=V.nhs_ok, needles=("nhs",), lower_needles=True,
    )


def medical_record_number() -> RegexRecognizer:
    return RegexRecognizer(
        "medical_record_number",
        _rx(rf"""(?i:\b(?:mrn|medical\s+record\s*(?:number|no\.?|num|\#)?|med\.?\s*rec\.?\s*(?:no\.?|\#)
                 |patient\s+(?:id|identifier|number|no\.?)|hospital\s+(?:number|no\.?)
                 |chart\s+(?:number|no\.?|\#))){_COLON}([A-Z0-9][A-Z0-9-]{{3,15}}[A-Z0-9])(?![\w-])"""),
        group=1, validate=V.has_digits(4),
        needles=("mrn", "medical rec", "med rec", "med. rec", "patient", "hospital", "chart"), lower_needles=True,
    )


def passport_number() -> RegexRecognizer:
    return RegexRecognizer(
        "passport_number",
        _rx(rf"""(?i:\b(?:passport|passeport|reisepass|pasaporte|passaporto)(?:[\s-]*(?:number|no\.?|num|nr\.?|nummer
                 |numéro|\#|id))?){_COLON}([A-Z0-9]{{6,9}})(?![\w-])"""),
        group=1, validate=V.has_digits(2),
        needles=("passport", "passeport", "reisepass", "pasaporte", "passaporto"), lower_needles=True,
    )


def date_of_birth() -> RegexRecognizer:
    return RegexRecognizer(
        "date_of_birth",
        _rx(rf"""(?i:\b(?:d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date|birthday|born(?:\s+on)?|geburtsdatum
                 |geb\.|née?\s+le|fecha\s+de\s+nacimiento|data\s+di\s+nascita)){_COLON}{_DATE}(?!\w)"""),
        group=1, validate=V.birth_date_ok,
        needles=("dob", "d.o.b", "birth", "born", "geburt", "geb.", "né", "nacimiento", "nascita"), lower_needles=True,
    )


def ip_address() -> list[RegexRecognizer]:
    v4 = RegexRecognizer(
        "ip_address",
        _rx(r"(?<![\w.])(?<!(?i:version)\s)(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)"),
        validate=V.ip_ok, needles=(".",), requires=r"\d\.\d{1,3}\.\d{1,3}\.\d",
    )
    v6 = RegexRecognizer(
        "ip_address",
        _rx(r"(?<![\w:.])(?=[0-9A-Fa-f:]*\d)(?:[0-9A-Fa-f]{1,4}:|:){2,7}(?::|[0-9A-Fa-f]{1,4})(?![\w:])"),
        validate=V.ip_ok, needles=(":",), requires=r":[0-9A-Fa-f:]",
    )
    return [v4, v6]


def street_address() -> list[RegexRecognizer]:
    street = RegexRecognizer(
        "address",
        _rx(r"""\b\d{1,5}[A-Za-z]?\s+(?:[A-Z][A-Za-z'.-]+\s+){1,4}
                (?:Street|St\.?|Avenue|Ave\.?|Road|Rd\.?|Boulevard|Blvd\.?|Lane|Ln\.?|Drive|Dr\.?|Court|Ct\.?
                |Place|Pl\.?|Way|Terrace|Parkway|Pkwy\.?|Square|Sq\.?|Close|Crescent|Highway|Hwy\.?)(?![\w])"""),
        requires=r"\d[A-Za-z]?\s+[A-Z]",
    )
    german = RegexRecognizer(
        "address",
        _rx(r"""\b(?!(?i:[a-zäöüß]*(?:[aeiou]ring|bring|string|spring|during))\b)[A-ZÄÖÜ][a-zäöüß]+
                (?:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm)\s+\d{1,4}[a-z]?\b(?![.,]\d)"""),
        needles=("straße", "strasse", "str.", "weg ", "platz", "allee", "gasse", "ring ", "damm"), lower_needles=True,
    )
    french = RegexRecognizer(
        "address",
        _rx(r"""\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|boulevard|place|chemin|allée)\s+(?:de\s+la\s+|d[eu']\s?|des\s|la\s)?
                [A-ZÉ][\w'-]+"""),
        needles=("rue ", "avenue", "boulevard", "place", "chemin", "allée"), lower_needles=True,
    )
    uk_postcode = RegexRecognizer(
        "address",
        _rx(r"(?<![\w-])(?:[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?)\s\d[ABD-HJLNP-UW-Z]{2}(?![\w-])"),
        requires=r"\s\d[ABD-HJLNP-UW-Z][ABD-HJLNP-UW-Z]",
    )
    return [street, german, french, uk_postcode]


def default_structured() -> list[RegexRecognizer]:
    """Validated identifiers, in claim order: the most specific first."""
    return [
        iban(), credit_card(), *ssn(), nhs_number(), medical_record_number(), passport_number(),
        date_of_birth(), email(), *ip_address(), *street_address(),
    ]
