"""Checksum and plausibility rules that turn a regex candidate into a finding.

Every function takes the matched string and returns ``True`` when it is a real identifier.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import json
import re
from collections.abc import Callable

_NON_DIGIT = re.compile(r"\D")
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]")


def digits(s: str) -> str:
    return _NON_DIGIT.sub("", s)


def luhn_ok(number: str) -> bool:
    """Luhn (mod 10) checksum over the digits of ``number``."""
    ds = digits(number)
    if not ds:
        return False
    total = 0
    for i, ch in enumerate(reversed(ds)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_prefix_ok(ds: str) -> bool:
    """Issuer (IIN) prefix and length of the major card networks."""
    n = len(ds)
    p2, p4, p6 = int(ds[:2]), int(ds[:4]), int(ds[:6])
    if ds[0] == "4":  # Visa
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 222100 <= p6 <= 272099:  # Mastercard
        return n == 16
    if p2 in (34, 37):  # American Express
        return n == 15
    if p4 == 6011 or p2 == 65 or 644 <= int(ds[:3]) <= 649:  # Discover
        return 16 <= n <= 19
    if 3528 <= p4 <= 3589:  # JCB
        return 16 <= n <= 19
    if 300 <= int(ds[:3]) <= 305 or p2 in (36, 38, 39):  # Diners Club
        return 14 <= n <= 19
    if p2 == 62:  # UnionPay
        return 16 <= n <= 19
    if p2 == 50 or 56 <= p2 <= 69:  # Maestro
        return 12 <= n <= 19
    return False


def card_ok(s: str) -> bool:
    """A payment card number: known issuer prefix and length, Luhn-valid, not all one digit."""
    ds = digits(s)
    if not 13 <= len(ds) <= 19 or len(set(ds)) < 2:
        return False
    return _card_prefix_ok(ds) and luhn_ok(ds)


# IBAN length per country (ISO 13616 registry)
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


def iban_ok(s: str) -> bool:
    """An IBAN: registered country, that country's length, and ISO 7064 mod-97 == 1."""
    iban = _NON_ALNUM.sub("", s).upper()
    if len(iban) != IBAN_LENGTHS.get(iban[:2], -1) or not iban[2:4].isdigit():
        return False
    moved = iban[4:] + iban[:4]
    num = "".join(str(int(ch, 36)) for ch in moved)
    return int(num) % 97 == 1


_SSN_NEVER_ISSUED = frozenset({"078051120", "219099999", "123456789"})


def ssn_ok(s: str) -> bool:
    """A US social security number: area not 000/666/9xx, group not 00, serial not 0000."""
    ds = digits(s)
    if len(ds) != 9 or ds in _SSN_NEVER_ISSUED:
        return False
    area, group, serial = ds[:3], ds[3:5], ds[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def nhs_ok(s: str) -> bool:
    """An NHS number (England, Wales, Isle of Man): 10 digits, modulus-11 check digit."""
    ds = digits(s)
    if len(ds) != 10 or len(set(ds)) == 1:
        return False
    total = sum(int(d) * w for d, w in zip(ds[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(ds[9])


def ip_ok(s: str) -> bool:
    """A public (globally routable) IPv4 or IPv6 address.

    Loopback, private, link-local, documentation and other reserved ranges (127.0.0.1, 10.x,
    192.168.x, fe80::, 2001:db8::) identify no one and appear all over code, so they do not count.
    """
    try:
        ip = ipaddress.ip_address(s)
    except ValueError:
        return False
    return ip.is_global and not ip.is_multicast


_MONTHS = {
    m: i + 1
    for i, names in enumerate([
        ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
        ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
        ("oct", "october"), ("nov", "november"), ("dec", "december"),
    ])
    for m in names
}
_NUM_DATE = re.compile(r"(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})")
_DAY_MONTH = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([A-Za-z]+)\.?,?\s+(\d{4})")
_MONTH_DAY = re.compile(r"([A-Za-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")


def _valid_ymd(y: int, m: int, d: int, today: dt.date) -> bool:
    if y < 100:  # two-digit year: the most recent past year with those digits
        y += 2000 if 2000 + y <= today.year else 1900
    if not 1900 <= y <= today.year:
        return False
    try:
        return dt.date(y, m, d) <= today
    except ValueError:
        return False


def birth_date_ok(s: str, today: dt.date | None = None) -> bool:
    """A plausible date of birth: a real calendar date between 1900 and today, in any common layout."""
    today = today or dt.date.today()
    s = s.strip()
    m = _NUM_DATE.fullmatch(s)
    if m:
        a, b, c = (int(g) for g in m.groups())
        if len(m.group(1)) == 4:  # ISO: Y-M-D
            return _valid_ymd(a, b, c, today)
        if len(m.group(3)) not in (2, 4):
            return False
        return _valid_ymd(c, b, a, today) or _valid_ymd(c, a, b, today)  # D/M/Y or M/D/Y
    m = _DAY_MONTH.fullmatch(s)
    if m and m.group(2).lower() in _MONTHS:
        return _valid_ymd(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)), today)
    m = _MONTH_DAY.fullmatch(s)
    if m and m.group(1).lower() in _MONTHS:
        return _valid_ymd(int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2)), today)
    return False


def has_digits(min_count: int) -> Callable[[str], bool]:
    """A validator: at least ``min_count`` digits in the match (ids that are not plain words)."""

    def check(s: str) -> bool:
        return sum(ch.isdigit() for ch in s) >= min_count

    return check


def _b64json(segment: str) -> object:
    pad = "=" * (-len(segment) % 4)
    try:
        return json.loads(base64.urlsafe_b64decode(segment + pad))
    except (binascii.Error, ValueError):
        return None


def jwt_ok(s: str) -> bool:
    """A JSON Web Token: three segments, the header decodes to a JSON object naming ``alg``."""
    parts = s.split(".")
    if len(parts) != 3:
        return False
    header = _b64json(parts[0])
    return isinstance(header, dict) and "alg" in header


_PLACEHOLDER_PASSWORDS = frozenset({
    "password", "passwd", "pass", "pwd", "secret", "changeme", "xxx", "xxxx", "xxxxxx", "****", "*****",
    "******", "********", "redacted", "your_password", "yourpassword", "mypassword", "user", "...",
})


def real_password(s: str) -> bool:
    """A password that is not an obvious placeholder (``password``, ``****``, ``<pw>``, ``${PW}``)."""
    p = s.strip().strip("'\"")
    if len(p) < 3 or p.lower() in _PLACEHOLDER_PASSWORDS:
        return False
    if p[0] in "<{[$%" or p.startswith("{{") or set(p) <= {"*", "x", "X", "."}:
        return False
    return not (p.isupper() and "_" in p)  # ENV_VAR_NAME style
