"""Phone numbers in international and national formats, without mistaking versions, years or ids.

Candidates come from one regex (digits with spaces, dots, dashes, parentheses; 7–15 digits). Then:

* ``+44 …`` / ``0044 …`` (international prefix): valid per Google's libphonenumber metadata.
* national numbers (no prefix) must *look* like phone numbers — a North-American ``(415) 555-2671`` /
  ``415-555-2671`` layout, or trunk-prefix grouping such as ``030 1234 5678`` — or follow a phone word
  ("tel", "call", "mobile" …) — and be valid in one of the configured regions.
* date layouts (``2024-01-15``, ``15.01.2024``) never count.

Validation uses ``phonenumbers`` (the ``phonenumberslite`` wheel) when installed, else a digit-count
rule (E.164: 8–15 digits international, 10 digits for the North-American layout, 9–11 otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from smallfirst.sensitivity.recognizers import Hit

_CANDIDATE = re.compile(r"(?<![\w.+/@:#-])(?:\+|\(|\b)\d[\d \u00a0().-]{5,22}\d(?![\w/@:]|[.-]\d)")
# the core of every candidate, without the look-arounds: ``re`` skips to digits, so texts without one
# long enough are rejected in one quick scan
_CANDIDATE_CORE = re.compile(r"\d[\d \u00a0().-]{5,22}\d")
_DATE_SHAPE = re.compile(r"\d{1,4}([./-])\d{1,2}\1\d{1,4}|\d{4}[./-]\d{1,2}|\d{1,2}[./-]\d{4}")
_NANP = re.compile(r"(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}")
_TRUNK = re.compile(r"\(?0\d{1,5}\)?(?:[ .-]\d{2,8}){1,4}")
_CONTEXT = re.compile(
    r"(?:\b(?:tel|tél|phone|telephone|téléphone|telefon|telefono|mobile|mobil|handy|portable|cell|fax|call"
    r"|ring|text|sms|whatsapp|contact|reach|dial)\b|☎|📞)[^\n\d]{0,20}$"
)
# labels of other identifiers: a number right after them is that identifier, not a phone number
_OTHER_ID = re.compile(
    r"\b(?:nhs|ssn|social\s+security|mrn|medical\s+record|patient|passport|account|acct|order|invoice|ref"
    r"|reference|card|iban|isbn|serial|sku|tracking|case|ticket|id)\b[^\n\d]{0,16}$"
)
_CONTEXT_WINDOW = 32
_DIGITS = re.compile(r"\d")

Validator = Callable[[str, Sequence[str]], bool]


def _load_validator() -> Validator | None:
    try:
        import phonenumbers
    except ImportError:
        return None

    def valid(number: str, regions: Sequence[str]) -> bool:
        for region in ([None] if number.startswith("+") else regions):
            try:
                parsed = phonenumbers.parse(number, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(parsed):
                return True
        return False

    return valid


def _digit_rule(number: str, regions: Sequence[str]) -> bool:
    n = len(_DIGITS.findall(number))
    if number.startswith("+"):
        return 8 <= n <= 15
    if _NANP.fullmatch(number):
        return n == 10 and number.lstrip("(")[0] not in "01"
    return 9 <= n <= 11


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        if ch == "(":
            depth += 1
            if depth > 1:
                return False
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


@dataclass(slots=True)
class PhoneRecognizer:
    """Finds phone numbers; ``regions`` are ISO country codes tried for numbers without ``+``."""

    regions: tuple[str, ...] = ("US", "GB", "DE", "FR")
    use_library: bool = True
    entity: str = "phone"
    _valid: Validator = field(init=False)

    def __post_init__(self) -> None:
        lib = _load_validator() if self.use_library else None
        self._valid = lib or _digit_rule

    @property
    def backend(self) -> str:
        return "phonenumbers" if self._valid is not _digit_rule else "digit-rule"

    def is_phone(self, candidate: str, before: str) -> bool:
        """``candidate`` is the matched string; ``before`` the text just before it (lower-cased)."""
        c = candidate.strip()
        n = len(_DIGITS.findall(c))
        if not 7 <= n <= 15 or not _balanced(c) or _DATE_SHAPE.fullmatch(c):
            return False
        if "  " in c or ".." in c or "--" in c:
            return False
        if c.startswith("+"):
            return self._valid(c, self.regions)
        if _OTHER_ID.search(before):
            return False
        if c.startswith("00") and not c.startswith("000"):
            return self._valid("+" + c[2:], self.regions)
        shaped = bool(_NANP.fullmatch(c) or _TRUNK.fullmatch(c))
        if not shaped and not _CONTEXT.search(before):
            return False
        return self._valid(c, self.regions)

    def find(self, text: str, lower: str) -> Iterator[Hit]:
        if _CANDIDATE_CORE.search(text) is None:
            return
        for m in _CANDIDATE.finditer(text):
            start, end = m.span()
            if text[start] == "(" and not _balanced(text[start:end]):
                start += 1  # "(415 555 2671)": the parenthesis belongs to the prose
            if self.is_phone(text[start:end], lower[max(0, start - _CONTEXT_WINDOW):start]):
                yield start, end, start, end
