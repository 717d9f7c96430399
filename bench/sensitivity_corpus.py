"""A labelled, templated corpus for the sensitivity detectors (written for smallfirst, Apache-2.0).

Values are generated with a seeded RNG: card numbers with real issuer prefixes and Luhn digits, IBANs
with real country lengths and mod-97 check digits, NHS numbers with mod-11 check digits, phone numbers
from libphonenumber's example numbers with randomised subscriber digits, random secrets in each
provider's key format. Each is placed in several sentence templates (with and without context).
Near misses (bad checksums, private IPs, versions, years, dates, ids, placeholders) and clean prose
carry no labels: anything found there is a false positive.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass

from smallfirst.sensitivity.validators import IBAN_LENGTHS


@dataclass(frozen=True)
class Sample:
    text: str
    spans: tuple[tuple[int, int, str], ...]  # gold (start, end, entity)


def _fill(template: str, value: str, entity: str) -> Sample:
    start = template.index("{}")
    return Sample(template.replace("{}", value, 1), ((start, start + len(value), entity),))


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _alnum(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + _digits(rng, length - len(prefix) - 1)
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15),
                                 ("6011", 16), ("65", 16), ("3528", 16), ("62", 16)])
    n = _luhn_complete(prefix, length, rng)
    style = rng.choice(["plain", "space", "dash"])
    if style == "plain":
        return n
    groups = [n[:4], n[4:10], n[10:]] if length == 15 else [n[i:i + 4] for i in range(0, length, 4)]
    return (" " if style == "space" else "-").join(groups)


_BBAN = {"DE": "n18", "GB": "a4n14", "FR": "n23", "NL": "a4n10", "ES": "n20", "IT": "a1n22", "CH": "n17",
         "BE": "n12", "AT": "n16", "PL": "n24", "IE": "a4n14", "SE": "n20"}


def iban(rng: random.Random, valid: bool = True) -> str:
    cc = rng.choice(sorted(_BBAN))
    spec = _BBAN[cc]
    bban = ""
    parts = spec.replace("a", " a").replace("n", " n").split()
    for p in parts:
        n = int(p[1:])
        bban += _alnum(rng, n, string.ascii_uppercase) if p[0] == "a" else _digits(rng, n)
    assert len(bban) + 4 == IBAN_LENGTHS[cc]
    num = int("".join(str(int(ch, 36)) for ch in bban + cc + "00"))
    check = 98 - num % 97
    if not valid:
        check = (check + rng.randint(1, 96)) % 97 or 1
    value = f"{cc}{check:02d}{bban}"
    return " ".join(value[i:i + 4] for i in range(0, len(value), 4)) if rng.random() < 0.5 else value


def ssn(rng: random.Random, valid: bool = True) -> str:
    if valid:
        area = rng.choice([a for a in range(1, 900) if a != 666])
        return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    return rng.choice([f"000-{rng.randint(1, 99):02d}-1234", f"666-12-{rng.randint(1, 9999):04d}",
                       f"9{rng.randint(0, 99):02d}-12-3456", f"123-00-{rng.randint(1, 9999):04d}"])


def nhs(rng: random.Random, valid: bool = True) -> str:
    while True:
        nine = _digits(rng, 9)
        total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True))
        check = (11 - total % 11) % 11
        if check != 10:
            break
    last = check if valid else (check + 1) % 10
    n = nine + str(last)
    return rng.choice([f"{n[:3]} {n[3:6]} {n[6:]}", n, f"{n[:3]}-{n[3:6]}-{n[6:]}"])


def phone(rng: random.Random, national: bool) -> str:
    import phonenumbers

    regions = ["US", "GB", "DE", "FR"] if national else [
        "US", "GB", "DE", "FR", "IN", "JP", "BR", "AU", "ES", "IT", "NL", "CH", "SE", "PL", "MX", "ZA", "SG",
        "IE", "CA", "KR"]
    for _ in range(100):
        region = rng.choice(regions)
        kind = rng.choice([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE])
        ex = phonenumbers.example_number_for_type(region, kind)
        if ex is None:
            continue
        nsn = str(ex.national_number)
        ex.national_number = int(nsn[:-4] + _digits(rng, 4))
        if not phonenumbers.is_valid_number(ex):
            continue
        fmt = phonenumbers.PhoneNumberFormat
        if national:
            return phonenumbers.format_number(ex, fmt.NATIONAL)
        return phonenumbers.format_number(ex, rng.choice([fmt.INTERNATIONAL, fmt.E164]))
    raise RuntimeError("could not generate a valid phone number")


def public_ip(rng: random.Random) -> str:
    while True:
        if rng.random() < 0.7:
            ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(rng.getrandbits(32))
        else:
            ip = ipaddress.IPv6Address((0x2A00 << 112) | rng.getrandbits(96))
        if ip.is_global and not ip.is_multicast:
            return ip.compressed


def birth_date(rng: random.Random) -> str:
    y, m, d = rng.randint(1930, 2010), rng.randint(1, 12), rng.randint(1, 28)
    month = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"][m - 1]
    return rng.choice([f"{y}-{m:02d}-{d:02d}", f"{d:02d}/{m:02d}/{y}", f"{m}/{d}/{y}", f"{d}.{m}.{y}",
                       f"{d} {month} {y}", f"{month} {d}, {y}", f"{month[:3]} {d} {y}"])


def _jwt(rng: random.Random) -> str:
    def seg(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    header = seg({"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"})
    payload = seg({"sub": _digits(rng, 8), "iat": rng.randint(1_600_000_000, 1_900_000_000)})
    return f"{header}.{payload}.{_alnum(rng, 43, string.ascii_letters + string.digits + '-_')}"


def _mixed(rng: random.Random, n: int) -> str:
    while True:
        s = _alnum(rng, n)
        if any(c.isdigit() for c in s) and any(c.islower() for c in s) and any(c.isupper() for c in s):
            return s


SECRETS: dict[str, Callable[[random.Random], str]] = {
    "secret.openai_key": lambda r: rng_choice(r, ["sk-proj-" + _mixed(r, 64), "sk-" + _mixed(r, 48)]),
    "secret.anthropic_key": lambda r: "sk-ant-api03-" + _alnum(r, 93, string.ascii_letters + string.digits + "-_")
    + "AA",
    "secret.aws_access_key": lambda r: "AKIA" + _alnum(r, 16, string.ascii_uppercase + string.digits),
    "secret.github_token": lambda r: rng_choice(r, ["ghp_", "gho_", "ghs_"]) + _alnum(r, 36),
    "secret.google_api_key": lambda r: "AIza" + _alnum(r, 35, string.ascii_letters + string.digits + "-_"),
    "secret.slack_token": lambda r: f"xoxb-{_digits(r, 12)}-{_digits(r, 13)}-{_alnum(r, 24)}",
    "secret.stripe_key": lambda r: rng_choice(r, ["sk_live_", "rk_live_", "sk_test_"]) + _alnum(r, 24),
    "secret.jwt": _jwt,
    "secret.private_key": lambda r: _pem(r),
}


def _pem(rng: random.Random) -> str:
    label = rng.choice(["RSA ", "EC ", "OPENSSH ", ""]) + "PRIVATE KEY"
    return f"-----BEGIN {label}-----\n{_alnum(rng, 64)}\n-----END {label}-----"


def rng_choice(rng: random.Random, options: list[str]) -> str:
    return rng.choice(options)


FIRST = ["Jane", "Omar", "Li", "Priya", "Lukas", "Amara", "Sofia", "Kenji", "Mateo", "Olga", "Fatima", "Noah",
         "Chloé", "Tomasz", "Aisha", "Diego", "Ingrid", "Kwame", "Mei", "Arjun"]
LAST = ["Doe", "Haddad", "Wei", "Patel", "Schneider", "Okafor", "Rossi", "Tanaka", "García", "Ivanova", "Khan",
        "Smith", "Dubois", "Nowak", "Bello", "Fernández", "Larsen", "Mensah", "Chen", "Sharma"]
STREETS = ["Baker", "Maple", "Elm", "High", "Church", "Station", "Park", "Victoria", "Oak", "Mill"]

TEMPLATES: dict[str, list[str]] = {
    "email": ["Please write to {} today.", "Contact: {}", "cc {} on the thread", "from: {}\nsubject: refund"],
    "phone": ["Call me on {} after lunch.", "mobile: {}", "{} is my number", "Tel {} (office)",
              "Reach the clinic at {}.", "you can ring {} any time"],
    "phone_national_bare": ["Our office: {}", "{} (front desk)", "Details: {}"],
    "ssn": ["SSN {} on file", "her social security number is {}", "{}"],
    "credit_card": ["Visa {} exp 12/27", "card: {}", "pay with {} please", "{}"],
    "iban": ["IBAN {}", "Please transfer to {} by Friday.", "account {}"],
    "ip_address": ["The login came from {} at noon", "client {} connected", "blocked {} after 5 tries"],
    "date_of_birth": ["DOB: {}", "Date of birth {}", "born on {} in Leeds", "patient (d.o.b. {}) presents"],
    "nhs_number": ["NHS number: {}", "NHS No. {}", "nhs# {}"],
    "medical_record_number": ["MRN: {}", "Medical record number {}", "patient ID {}", "hospital no. {}"],
    "passport_number": ["passport number {}", "Passport no: {}", "scan of passport {} attached"],
    "address": ["Ship it to {} please", "She lives at {}.", "Office: {}"],
    "secret": ["OPENAI_API_KEY={}", "use this key: {}", "config = {'token': '{}'}", "export TOKEN={}"],
    "connection": ["DATABASE_URL={}", "connect with {}", "url: {}"],
    "person": ["Please email {} about the meeting.", "{} called this morning.", "Dear {}, thanks for your order."],
}

NEAR_MISS_TEMPLATES = [
    "Python {v} and version {v}.{n}", "It happened in {y}, or maybe {y}-{y2}.", "Invoice dated {y}-0{m}-1{d}",
    "unix time 17{n8}", "order {n9} shipped", "ISBN 978-3-16-{n6}-0", "build {y}0{m}1{d} passed",
    "price: 1 {n3} {n3} EUR", "coordinates 5{d}.{n4}, -0.{n4}", "uuid 123e4567-e89b-12d3-a456-4266{n8}",
    "localhost 127.0.0.1 and 192.168.{d}.{m} and 10.0.{d}.5", "docs 2001:db8::{d} and fe80::1",
    "Meeting on {m}/1{d}/{y}", "born in {y}", "passport photo required", "MRN: pending",
    "set OPENAI_API_KEY=sk-... and postgres://user:password@localhost/db", "sha {sha}",
    "at 12:3{d}:45 and std::vector", "page {n3} of {n4}", "the numbers 1 2 3 4 5 6 7 8 9",
]


def _near_miss(rng: random.Random) -> str:
    t = rng.choice(NEAR_MISS_TEMPLATES)
    return t.format(v=f"{rng.randint(1, 19)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}", y=rng.randint(1950, 2030),
                    y2=rng.randint(1950, 2030), m=rng.randint(1, 9), d=rng.randint(1, 9), n=_digits(rng, 4),
                    n3=_digits(rng, 3), n4=_digits(rng, 4), n6=_digits(rng, 6), n8=_digits(rng, 8),
                    n9=_digits(rng, 9), sha=_alnum(rng, 40, "0123456789abcdef"))


def _invalid(rng: random.Random) -> str:
    """Checksum-invalid look-alikes: they must not be found."""
    kind = rng.choice(["card", "iban", "ssn", "nhs"])
    if kind == "card":
        good = card(rng)
        last = str((int(good[-1]) + rng.randint(1, 9)) % 10)
        return f"card: {good[:-1]}{last}"
    if kind == "iban":
        return f"IBAN {iban(rng, valid=False)}"
    if kind == "ssn":
        return f"SSN {ssn(rng, valid=False)}"
    return f"NHS number: {nhs(rng, valid=False)}"


def build(seed: int = 7, per_entity: int = 200, with_people: bool = False) -> list[Sample]:
    """Positives per entity type, then near misses, invalid checksums and clean prose (no labels)."""
    rng = random.Random(seed)
    out: list[Sample] = []

    def add(entity: str, key: str, make: Callable[[], str]) -> None:
        for _ in range(per_entity):
            out.append(_fill(rng.choice(TEMPLATES[key]), make(), entity))

    def name() -> str:
        return f"{rng.choice(FIRST)}.{rng.choice(LAST)}".lower()

    add("email", "email", lambda: f"{name()}{rng.choice(['', '+news', '99'])}@"
        f"{rng.choice(['example.org', 'mail.co.uk', 'firma-beispiel.de', 'uni.edu', 'corp.io'])}")
    add("phone", "phone", lambda: phone(rng, national=False))
    add("phone", "phone", lambda: phone(rng, national=True))
    add("phone", "phone_national_bare", lambda: phone(rng, national=True))
    add("ssn", "ssn", lambda: ssn(rng))
    add("credit_card", "credit_card", lambda: card(rng))
    add("iban", "iban", lambda: iban(rng))
    add("ip_address", "ip_address", lambda: public_ip(rng))
    add("date_of_birth", "date_of_birth", lambda: birth_date(rng))
    add("nhs_number", "nhs_number", lambda: nhs(rng))
    add("medical_record_number", "medical_record_number",
        lambda: rng.choice([_digits(rng, 8), "A" + _digits(rng, 7), f"MR-{_digits(rng, 6)}"]))
    add("passport_number", "passport_number",
        lambda: rng.choice([rng.choice(string.ascii_uppercase) + _digits(rng, 8), _digits(rng, 9)]))
    add("address", "address", lambda: rng.choice([
        f"{rng.randint(1, 9999)} {rng.choice(STREETS)} {rng.choice(['Street', 'Road', 'Avenue', 'Lane'])}",
        f"{rng.choice(STREETS)}straße {rng.randint(1, 200)}",
        f"{rng.randint(1, 99)} rue de la {rng.choice(['Paix', 'Gare', 'République'])}"]))
    for entity, make_secret in SECRETS.items():
        add(entity, "secret", functools.partial(make_secret, rng))
    add("secret.connection_password", "connection", lambda: f"{rng.choice(['postgres', 'mysql', 'mongodb+srv'])}"
        f"://{rng.choice(['app', 'admin', 'svc'])}:{_mixed(rng, 12)}@db{rng.randint(1, 9)}.internal:5432/prod")
    if with_people:
        add("person", "person", lambda: f"{rng.choice(FIRST)} {rng.choice(LAST)}")
    for _ in range(per_entity * 3):
        out.append(Sample(_near_miss(rng), ()))
    for _ in range(per_entity * 2):
        out.append(Sample(_invalid(rng), ()))
    return out
