"""Phone numbers for the boundary screen: every region libphonenumber knows, extensions, trunk notation.

Stricter than nothing, looser than the router's cheap pass (``phones.PhoneRecognizer``), because here
a miss sends a number off the host:

* ``+CC …`` or ``00CC …`` (``+41 (0)96 123 45 67`` included): a possible number for that country;
* a national number grouped like a phone number (trunk ``0``, parentheses, dots/dashes/spaces in
  2–4 digit groups) or with an extension (``x4587``, ``ext. 12``): possible in one of the regions;
* an ungrouped run of 9–12 digits: valid (not just possible) in one of the regions;
* any of these after a phone word ("tel", "call me", "mobile" …): possible in one of the regions.

Dates, times, decimals, ranges, amounts and numbers after another id label never count.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from smallfirst.sensitivity.phones import _CONTEXT, _DATE_SHAPE, _OTHER_ID, _balanced
from smallfirst.sensitivity.recognizers import Hit

# regions tried for numbers written without a country code (libphonenumber region codes)
DEFAULT_REGIONS: tuple[str, ...] = (
    "US", "GB", "DE", "FR", "ES", "IT", "NL", "BE", "CH", "AT", "PL", "PT", "BR", "SE", "DK", "NO", "FI", "IE",
    "IN", "CA", "AU", "NZ", "MX", "AR", "CZ", "JP", "ZA",
)
_CANDIDATE = re.compile(
    r"(?<![\w.+/@:#=$€£¥*^-])(?:\+|\(|\b)\d[\d \u00a0().\-/]{5,22}\d"
    r"(?:\s*(?:x|ext\.?|extension|Durchwahl|poste)\s*\d{1,6})?(?![\w/@:%]|[.,-]\d)")
_MATH_AFTER = re.compile(r"\s*[*×+=^<>]")
_TIME = re.compile(r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?")
_GROUPED = re.compile(r"(?:\+?\d{1,4}\s?)?(?:\(0?\d{1,5}\)|0?\d{1,5})(?:[ .\-/\u00a0]\d{2,8}){1,5}")
_EXT = re.compile(r"\s*(?:x|ext\.?|extension|Durchwahl|poste)\s*\d{1,6}$", re.IGNORECASE)
_YEAR_RANGE = re.compile(r"(?:1[0-9]|20)\d\d\s?[-–/]\s?(?:1[0-9]|20)\d\d")
_NOT_PHONE = re.compile(r"(?i:\b(?:timestamp|epoch|unix|ts|between|seed|hash|port|pid|uid|gid)\b)[^\n\d]{0,12}$")
_TRUNK_PAREN = re.compile(r"\(0?\d{1,5}\)")
_WINDOW = 32


def _digit_count(s: str) -> int:
    return sum(ch.isdigit() for ch in s)


@dataclass(slots=True)
class IntlPhoneRecognizer:
    """Phone numbers of any region (``phonenumbers`` metadata), for the boundary screen."""

    regions: tuple[str, ...] = DEFAULT_REGIONS
    entity: str = "phone"

    def _parse(self, number: str, region: str | None) -> Any:
        import phonenumbers

        try:
            return phonenumbers.parse(number, region)
        except phonenumbers.NumberParseException:
            return None

    def _check(self, candidate: str, before: str) -> bool:
        import phonenumbers

        c = candidate.strip()
        core = _EXT.sub("", c)
        n = _digit_count(core)
        if (not 7 <= n <= 15 or not _balanced(core) or _DATE_SHAPE.fullmatch(core) or _TIME.fullmatch(core)
                or _YEAR_RANGE.fullmatch(core)):
            return False
        if _OTHER_ID.search(before) or _NOT_PHONE.search(before):
            return False
        context = _CONTEXT.search(before) is not None
        if core.startswith("+") or (core.startswith("00") and not core.startswith("000")):
            num = self._parse("+" + c[2:] if c.startswith("00") else c, None)
            return num is not None and phonenumbers.is_possible_number(num)
        extension = core != c
        grouped = _GROUPED.fullmatch(core) is not None and core.count(" ") + core.count("-") + core.count(".") \
            + core.count("(") + core.count("/") >= 1
        groups = len(re.findall(r"\d+", core))
        grouped = grouped and (groups >= 3 or core.startswith("0") or _TRUNK_PAREN.match(core) is not None)
        bare = core.isdigit()
        if bare and not (context or core.startswith("0") or (n == 10 and core[0] in "23456789")):
            return False  # an ungrouped run is a phone number only as 0… or a 10-digit NANP / Indian number
        if not (context or extension or grouped or (bare and 9 <= n <= 12)):
            return False
        strict = bare and not (context or extension)
        loose = context or extension or core.startswith("0") or _TRUNK_PAREN.match(core) is not None
        for region in self.regions:
            num = self._parse(c, region)
            if num is None:
                continue
            if phonenumbers.is_valid_number(num) or (not strict and loose and phonenumbers.is_possible_number(num)):
                return True
        return False

    def find(self, text: str, lower: str) -> Iterator[Hit]:
        for m in _CANDIDATE.finditer(text):
            start, end = m.span()
            if text[start] == "(" and not _balanced(text[start:end]):
                start += 1
            if _MATH_AFTER.match(text, end) or (start > 0 and text[start - 1] in "*×=^"):
                continue
            if self._check(text[start:end], lower[max(0, start - _WINDOW):start]):
                yield start, end, start, end
