"""Build the independent PII evaluation set ``smallfirst/sensitivity/data/pii-eval.jsonl``.

Deterministic (fixed seed, fixed Faker version recorded in the meta file). The positives are natural
chat-style sentences (support emails, CRM notes, HR requests, medical intake, bank disputes, shipping,
travel, pasted forms, JSON records, signatures) whose personal values come from Faker across many
locales; every value's character span is recorded with its type. The hard negatives hold no personal
data at all: code, maths, quiz questions, SKUs, ISBNs, public figures in knowledge questions, cities
as topics, scores, recipes. Faker is MIT-licensed and every value is generated: no real people.

Written without reading the detector's code; nothing here is tuned to its patterns.

    python scripts/make_pii_eval.py                      # the bundled set
    python scripts/make_pii_eval.py --positives 60 --negatives 20 --out /tmp/x.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import re
import string
import subprocess
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace

import faker
from faker import Faker

SET_NAME = "smallfirst-pii-eval-v1"
SEED = 20240917
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "smallfirst" / "sensitivity" / "data" / "pii-eval.jsonl"

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "pt_BR", "sv_SE",
           "da_DK", "fr_CH", "de_CH", "en_IN", "de_AT", "fi_FI", "en_IE", "pt_PT"]
COUNTRY_CODE = {"en_US": "1", "en_GB": "44", "de_DE": "49", "fr_FR": "33", "es_ES": "34", "it_IT": "39",
                "nl_NL": "31", "pl_PL": "48", "pt_BR": "55", "sv_SE": "46", "da_DK": "45", "fr_CH": "41",
                "de_CH": "41", "en_IN": "91", "de_AT": "43", "fi_FI": "358", "en_IE": "353", "pt_PT": "351"}
# locales whose Faker bank provider yields that country's own IBAN
IBAN_LOCALES = {"en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "pt_BR", "da_DK", "fr_CH",
                "de_CH", "de_AT", "fi_FI", "en_IE", "pt_PT"}
# locale -> Faker method giving a national identifier of that country
NATIONAL_ID = {"en_GB": "ssn", "fr_FR": "ssn", "it_IT": "ssn", "nl_NL": "ssn", "pl_PL": "ssn", "pt_BR": "cpf",
               "sv_SE": "ssn", "fr_CH": "ssn", "de_CH": "ssn", "fi_FI": "ssn", "de_AT": "ssn", "de_DE": "rvnr",
               "es_ES": "nif", "en_IN": "aadhaar_id", "da_DK": "_cpr", "en_IE": "ssn", "pt_PT": "ssn"}
NATIONAL_ID_NAME = {"en_GB": "National Insurance number", "fr_FR": "numéro de sécurité sociale",
                    "it_IT": "codice fiscale", "nl_NL": "BSN", "pl_PL": "PESEL", "pt_BR": "CPF",
                    "sv_SE": "personnummer", "fr_CH": "AVS number", "de_CH": "AHV-Nummer", "fi_FI": "henkilötunnus",
                    "de_AT": "Sozialversicherungsnummer", "de_DE": "Rentenversicherungsnummer", "es_ES": "DNI",
                    "en_IN": "Aadhaar number", "da_DK": "CPR number", "en_IE": "PPS number", "pt_PT": "NIF"}
LANG = {loc: loc.split("_")[0] for loc in LOCALES}

TYPES = ["person", "street_address", "city", "postcode", "email", "phone", "credit_card", "iban", "ssn",
         "national_id", "ip_address", "date", "drivers_license", "passport"]
GROUP = {"person": "names_places", "street_address": "names_places", "city": "names_places",
         "postcode": "names_places", "date": "date"}
for _t in ("email", "phone", "credit_card", "iban", "ssn", "national_id", "ip_address", "drivers_license",
           "passport"):
    GROUP[_t] = "structured"

Seg = tuple[str, str | None]  # (text, entity type or None)


# ---------------------------------------------------------------------------------------------- values

class Values:
    """Typed slot values for one locale; every slot returns segments so titles / extensions can sit outside."""

    def __init__(self, rng: random.Random, fk: Faker, locale: str, fakers: dict[str, Faker]) -> None:
        self.rng, self.fk, self.locale, self.fakers = rng, fk, locale, fakers

    # names ---------------------------------------------------------------------------------------
    def _case(self, s: str) -> str:
        r = self.rng.random()
        return s.lower() if r < 0.1 else s.upper() if r < 0.13 else s

    def name(self) -> list[Seg]:
        fk, rng = self.fk, self.rng
        full = f"{fk.first_name()} {fk.last_name()}"
        if rng.random() < 0.15:
            return [(fk.prefix() + " ", None), (self._case(full), "person")]
        return [(self._case(full), "person")]

    def first(self) -> list[Seg]:
        return [(self._case(self.fk.first_name()), "person")]

    def last(self) -> list[Seg]:
        return [(self._case(self.fk.last_name()), "person")]

    def titled_last(self) -> list[Seg]:
        titles = {"en": ["Mr", "Mrs", "Ms", "Dr", "Mr.", "Dr."], "de": ["Herr", "Frau", "Dr."],
                  "fr": ["M.", "Mme", "Madame", "Monsieur"], "es": ["Sr.", "Sra.", "don", "doña"],
                  "it": ["sig.", "sig.ra", "dott."], "nl": ["meneer", "mevrouw", "dhr."],
                  "pl": ["pan", "pani"], "pt": ["Sr.", "Sra.", "Dr."], "sv": ["herr", "fru"],
                  "da": ["hr.", "fru"], "fi": ["herra", "rouva"]}[LANG[self.locale]]
        return [(self.rng.choice(titles) + " ", None), (self.fk.last_name(), "person")]

    # places --------------------------------------------------------------------------------------
    def street(self) -> list[Seg]:
        return [(self.fk.street_address().replace("\n", ", "), "street_address")]

    def city(self) -> list[Seg]:
        return [(self.fk.city(), "city")]

    def postcode(self) -> list[Seg]:
        return [(self.fk.postcode(), "postcode")]

    def address(self, multiline: bool | None = None) -> list[Seg]:
        """A full postal address: half Faker's own formatting (one span), half composed (street/postcode/city)."""
        fk, rng, loc = self.fk, self.rng, self.locale
        ml = rng.random() < 0.5 if multiline is None else multiline
        sep = "\n" if ml else ", "
        if rng.random() < 0.45 and loc != "en_IN":
            text = fk.address()
            return [(text if ml else text.replace("\n", ", "), "street_address")]
        st, pc, ci = fk.street_address().replace("\n", ", "), fk.postcode(), fk.city()
        if loc == "en_US":
            return [(st, "street_address"), (sep, None), (ci, "city"), (f", {fk.state_abbr()} ", None),
                    (pc, "postcode")]
        if loc in ("en_GB", "en_IE"):
            return [(st, "street_address"), (sep, None), (ci, "city"), (sep if ml else " ", None), (pc, "postcode")]
        if loc == "en_IN":
            return [(st, "street_address"), (", ", None), (ci, "city"), (" - ", None), (pc, "postcode")]
        return [(st, "street_address"), (sep, None), (pc, "postcode"), (" ", None), (ci, "city")]

    def address1(self) -> list[Seg]:
        return self.address(multiline=False)

    def city_pc(self) -> list[Seg]:
        pc, ci = self.fk.postcode(), self.fk.city()
        if self.locale in ("en_GB", "en_IE", "en_US"):
            return [(ci, "city"), (" ", None), (pc, "postcode")]
        return [(pc, "postcode"), (" ", None), (ci, "city")]

    # contact -------------------------------------------------------------------------------------
    def email(self) -> list[Seg]:
        fk, rng = self.fk, self.rng
        r = rng.random()
        if r < 0.4:
            e = fk.free_email()
        elif r < 0.7:
            e = fk.company_email()
        elif r < 0.85:
            e = f"{fk.first_name()}.{fk.last_name()}@{fk.free_email_domain()}".lower()
        else:
            e = fk.email()
        e = unaccent(e)
        return [(e.upper() if rng.random() < 0.04 else e, "email")]

    def phone(self) -> list[Seg]:
        fk, rng, loc = self.fk, self.rng, self.locale
        num = fk.phone_number()
        r = rng.random()
        digits = re.sub(r"\D", "", num)
        if r < 0.15 and not num.startswith("+") and digits.startswith("0") and "x" not in num:
            num = f"+{COUNTRY_CODE[loc]} (0){num.lstrip('0').lstrip('(').replace(')', '')}"
        elif r < 0.25 and "x" not in num:
            num += rng.choice([" ext. ", " x", " ext ", " extension ", " Durchwahl "
                               if LANG[loc] == "de" else " poste " if LANG[loc] == "fr" else " x"])
            num += str(rng.randint(2, 9999))
        elif r < 0.35 and not num.startswith("+") and digits.startswith("0"):
            num = f"+{COUNTRY_CODE[loc]} {num.lstrip('0').lstrip('(').replace(')', '')}"
        return [(num, "phone")]

    def ip(self) -> list[Seg]:
        return [(self.fk.ipv6() if self.rng.random() < 0.2 else self.fk.ipv4_public(), "ip_address")]

    # money ---------------------------------------------------------------------------------------
    CARD_TYPES: Sequence[str] = ("visa", "visa16", "visa13", "visa19", "mastercard", "amex", "discover", "diners",
                                 "jcb15", "jcb16", "maestro")

    def card(self) -> list[Seg]:
        rng = self.rng
        kind = rng.choice(self.CARD_TYPES)
        try:
            n = self.fk.credit_card_number(card_type=kind)
        except KeyError:  # this locale's card provider lacks the type
            n = self.fakers["en_US"].credit_card_number(card_type=kind)
        style = rng.random()
        if style < 0.4:
            sep = rng.choice([" ", "-"])
            if len(n) in (14, 15):
                n = sep.join([n[:4], n[4:10], n[10:]])
            else:
                n = sep.join(n[i:i + 4] for i in range(0, len(n), 4))
        return [(n, "credit_card")]

    def card_type_name(self) -> str:
        return self.rng.choice(["Visa", "Mastercard", "Amex", "card", "credit card", "debit card", "Maestro"])

    def iban(self) -> list[Seg]:
        rng = self.rng
        loc = self.locale if self.locale in IBAN_LOCALES else rng.choice(sorted(IBAN_LOCALES))
        iban = self.fakers[loc].iban()
        r = rng.random()
        if r < 0.45:
            iban = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
        if rng.random() < 0.12:
            iban = iban.lower()
        return [(iban, "iban")]

    # ids -----------------------------------------------------------------------------------------
    def ssn(self) -> list[Seg]:
        s = self.fakers["en_US"].ssn()
        r = self.rng.random()
        if r < 0.2:
            s = s.replace("-", " ")
        elif r < 0.35:
            s = s.replace("-", "")
        return [(s, "ssn")]

    def national_id(self) -> list[Seg]:
        loc = self.locale if self.locale in NATIONAL_ID else self.rng.choice(sorted(NATIONAL_ID))
        m = NATIONAL_ID[loc]
        if m == "_cpr":
            d = birth_date(self.rng, 18, 85)
            v = f"{d:%d%m%y}-{self.rng.randint(0, 9999):04d}"
        else:
            v = str(getattr(self.fakers[loc], m)())
        return [(v, "national_id")]

    def national_id_name(self) -> str:
        return NATIONAL_ID_NAME.get(self.locale, "national ID number")

    def passport(self) -> list[Seg]:
        return [(self.fk.passport_number(), "passport")]

    def dl(self) -> list[Seg]:
        return [(us_licence(self.rng), "drivers_license")]

    # dates ---------------------------------------------------------------------------------------
    def _fmt_date(self, d: date) -> str:
        lang, rng = LANG[self.locale], self.rng
        months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                  "October", "November", "December"]
        r = rng.random()
        if r < 0.15:
            return d.isoformat()
        if r < 0.35:
            return f"{d.day} {months[d.month - 1]} {d.year}" if self.locale != "en_US" else \
                f"{months[d.month - 1]} {d.day}, {d.year}"
        if self.locale == "en_US":
            if rng.random() < 0.7:
                return f"{d.month:02d}/{d.day:02d}/{d.year}"
            return f"{d.month}/{d.day}/{d.year % 100:02d}"
        if lang in ("de", "pl", "fi", "da") or self.locale in ("fr_CH", "de_CH"):
            return f"{d.day:02d}.{d.month:02d}.{d.year}"
        if lang == "nl":
            return f"{d.day:02d}-{d.month:02d}-{d.year}"
        if lang == "sv":
            return d.isoformat()
        return f"{d.day:02d}/{d.month:02d}/{d.year}"

    def dob(self) -> list[Seg]:
        return [(self._fmt_date(birth_date(self.rng, 1, 95)), "date")]

    def date(self) -> list[Seg]:
        d = date(2024, 1, 1) + timedelta(days=self.rng.randint(-700, 500))
        return [(self._fmt_date(d), "date")]

    # unlabelled filler ---------------------------------------------------------------------------
    def company(self) -> list[Seg]:
        return [(self.fk.company(), None)]

    def order(self) -> list[Seg]:
        rng = self.rng
        return [(rng.choice(["#", "ORD-", "", "SO"]) + str(rng.randint(10000, 9999999)), None)]

    def amount(self) -> list[Seg]:
        rng = self.rng
        cur = {"en_US": "$", "en_GB": "£", "en_IN": "₹", "pl_PL": "zł ", "sv_SE": "SEK ", "da_DK": "DKK ",
               "fr_CH": "CHF ", "de_CH": "CHF ", "pt_BR": "R$"}.get(self.locale, "€")
        return [(f"{cur}{rng.randint(5, 2400)}.{rng.randint(0, 99):02d}", None)]

    def job(self) -> list[Seg]:
        return [(self.fk.job(), None)]


REFERENCE = dt.datetime(2025, 1, 1, 12, 0, 0)  # "now" for every date the set holds


def birth_date(rng: random.Random, min_age: int, max_age: int) -> date:
    return REFERENCE.date() - timedelta(days=rng.randint(min_age * 365, max_age * 365))


class _FixedDateTime(dt.datetime):
    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> _FixedDateTime:
        r = REFERENCE if tz is None else REFERENCE.replace(tzinfo=dt.UTC).astimezone(tz)
        return cls(r.year, r.month, r.day, r.hour, r.minute, r.second, r.microsecond, r.tzinfo)


class _FixedDate(dt.date):
    @classmethod
    def today(cls) -> _FixedDate:
        return cls(REFERENCE.year, REFERENCE.month, REFERENCE.day)


@contextlib.contextmanager
def fixed_clock() -> Iterator[None]:
    """Faker providers that read the clock (date_time; sv_SE / fi_FI / pl_PL ids) see REFERENCE as now."""
    import faker.providers.date_time as fdt
    import faker.providers.ssn.fi_FI as ffi
    import faker.providers.ssn.pl_PL as fpl
    import faker.providers.ssn.sv_SE as fsv

    shim = SimpleNamespace(datetime=_FixedDateTime, date=_FixedDate, timedelta=dt.timedelta)
    patches: list[tuple[ModuleType, str, object]] = [(fdt, "datetime", _FixedDateTime), (fdt, "dtdate", _FixedDate),
                                                     (fpl, "datetime", _FixedDateTime), (fsv, "datetime", shim),
                                                     (ffi, "datetime", shim)]
    saved = [(m, name, getattr(m, name)) for m, name, _ in patches]
    try:
        for m, name, value in patches:
            setattr(m, name, value)
        yield
    finally:
        for m, name, value in saved:
            setattr(m, name, value)


def unaccent(s: str) -> str:
    s = s.translate(str.maketrans({"ß": "ss", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE"}))
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


# public per-state formats (state DMV documentation): literal prefix + pattern (L letter, D digit, * either)
STATE_DL: dict[str, list[tuple[str, str]]] = {
    "CA": [("", "LDDDDDDD")], "NY": [("", "DDDDDDDDD"), ("", "DDD DDD DDD")],
    "FL": [("", "LDDD-DDD-DD-DDD-D"), ("", "LDDDDDDDDDDDD")], "TX": [("", "DDDDDDDD")],
    "IL": [("", "LDDD-DDDD-DDDD"), ("", "LDDDDDDDDDDD")], "PA": [("", "DD DDD DDD"), ("", "DDDDDDDD")],
    "MI": [("", "L DDD DDD DDD DDD"), ("", "LDDDDDDDDDDDD")], "NJ": [("", "LDDDD DDDDD DDDDD")],
    "OH": [("", "LLDDDDDD")], "GA": [("", "DDDDDDDDD")], "MA": [("S", "DDDDDDDD")], "AZ": [("", "LDDDDDDDD")],
    "WA": [("WDL", "*********")], "WI": [("", "LDDD-DDDD-DDDD-DD")], "MD": [("", "L-DDD-DDD-DDD-DDD")],
    "CO": [("", "DD-DDD-DDDD")],
}


def us_licence(rng: random.Random) -> str:
    prefix, fmt = rng.choice(STATE_DL[rng.choice(sorted(STATE_DL))])
    pick = {"L": string.ascii_uppercase, "D": string.digits, "*": string.ascii_uppercase + string.digits}
    return prefix + "".join(rng.choice(pick[ch]) if ch in pick else ch for ch in fmt)


# ---------------------------------------------------------------------------------------------- carriers
# Each carrier is natural text with {slot} markers. Slots: name first last tlast street address address1 city
# postcode city_pc email phone card iban ssn natid passport dl ip dob date | unlabelled: company order amount job
# and the plain-word slots {cardword} {natidword}. Carriers are keyed by the type they are written for, and may
# hold other entities too. "*" carriers suit every locale's language; others are keyed by language.

CARRIERS: dict[str, dict[str, list[str]]] = {
    "person": {"*": [
        "Hi, this is {name}. I ordered a standing desk last week and it still hasn't shipped, can you check?",
        "please ask {last} to call me back before 5, it's about the invoice dispute",
        "Can you write a polite reminder to {first} that the team offsite budget is due on Friday?",
        "Summarise this complaint from {name}: the technician never showed up and nobody called.",
        "My manager {name} asked me to draft a reference letter for {first}, who worked with us for three years.",
        "Translate into French: Dear {tlast}, thank you for your patience while we look into your claim.",
        "CRM note: spoke with {name} ({job}), interested in the enterprise plan, follow up in two weeks.",
        "Patient {name} reports headaches for 3 days, no fever. Please draft an intake summary.",
        "I need to reply to {tlast} who complained that the refund was only partial. Keep it short.",
        "Rewrite this so it sounds friendlier: '{first}, you missed the deadline again.'",
        "Who should I escalate to if {name} from accounts doesn't answer my emails?",
        "Best regards,\n{name}\n{job}\n{company}",
        "Thanks so much!\n\n-- \n{first}",
        "Can you help me plan a surprise birthday for my wife {first}? She likes hiking and jazz.",
        "Draft a warning letter to employee {name} about repeated late arrivals.",
        "{tlast} is on leave until next month, so who approves expense reports meanwhile?",
        "Hey, I'm {first} {last}, I booked a room for two nights but the app shows no reservation.",
        "Meeting notes: {name} and {name} agreed to split the migration work; {first} owns testing.",
        "my daughter {first} has a peanut allergy, what should I tell the summer camp?",
        "Please remove {name} from the mailing list, she has asked twice already.",
        "Kind regards, {name} | {company} | {phone}",
        "Write a short bio for our website for {name}, our new head of sales.",
    ], "de": [
        "Hallo, hier ist {name}. Meine Bestellung ist noch nicht angekommen, können Sie nachsehen?",
        "Bitte sagen Sie {tlast}, dass er mich zurückrufen soll.",
        "Mit freundlichen Grüßen\n{name}",
    ], "fr": [
        "Bonjour, je suis {name} et je n'ai toujours pas reçu mon remboursement.",
        "Merci de transmettre à {tlast} que le rendez-vous est reporté.",
        "Cordialement,\n{name}",
    ], "es": [
        "Hola, soy {name} y mi pedido llegó dañado. ¿Qué puedo hacer?",
        "Por favor dile a {tlast} que me llame mañana.",
    ], "it": ["Buongiorno, sono {name}, vorrei disdire l'abbonamento.", "Cordiali saluti,\n{name}"],
        "nl": ["Hoi, ik ben {name} en mijn pakket is nooit aangekomen.", "Met vriendelijke groet,\n{name}"],
        "pl": ["Dzień dobry, nazywam się {name} i chciałbym złożyć reklamację.", "Pozdrawiam,\n{name}"],
        "pt": ["Olá, meu nome é {name} e preciso alterar minha reserva.", "Atenciosamente,\n{name}"],
        "sv": ["Hej, jag heter {name} och min beställning har inte kommit.", "Vänliga hälsningar,\n{name}"],
        "da": ["Hej, jeg hedder {name}, og min pakke er ikke kommet.", "Venlig hilsen\n{name}"],
        "fi": ["Hei, olen {name} ja tilaukseni on myöhässä.", "Ystävällisin terveisin,\n{name}"],
    },
    "street_address": {"*": [
        "Please ship the replacement to {address} instead of my office.",
        "I've moved! New address: {address}. Can you update my account?",
        "Write a letter to my landlord about the broken heating at {street}.",
        "The courier left my parcel at {street} but I live two doors down, what do I do?",
        "Shipping address:\n{name}\n{address}",
        "Hi, I'd like to change the delivery address on order {order} to {address1}.",
        "Form pasted below\nName: {name}\nAddress: {address1}\nPhone: {phone}",
        "We had a burst pipe at {street} last night; draft an insurance claim for me.",
        "Can you tell me if {street} is in the same school district as my old place?",
        "{{\"customer\": \"{name}\", \"address\": \"{address1}\", \"order\": \"{order}\"}}",
        "My mother lives at {address1} and needs a home nurse visit twice a week.",
        "Send the contract to {name}, {address}",
    ], "de": ["Bitte liefern Sie an {address}.", "Meine neue Anschrift lautet {address1}."],
        "fr": ["Merci d'envoyer le colis au {address1}.", "Ma nouvelle adresse : {address}"],
        "es": ["Envíen el paquete a {address1}, por favor.", "Mi dirección nueva es {address1}."],
        "it": ["Spedite il pacco a {address1}, grazie."], "nl": ["Mijn nieuwe adres is {address1}."],
        "pl": ["Proszę wysłać paczkę na adres {address1}."], "pt": ["Meu endereço novo é {address1}."],
        "sv": ["Skicka paketet till {address1}."], "da": ["Send pakken til {address1}."],
        "fi": ["Lähettäkää paketti osoitteeseen {address1}."],
    },
    "city": {"*": [
        "I moved to {city_pc} last month, does my insurance still cover me?",
        "I live in {city} and my neighbour keeps parking in front of my garage, how do I complain?",
        "My son {first} just started university in {city}; what should he register for first?",
        "Our customer {name} in {city} wants to know when the technician arrives.",
        "I'm flying from {city} on {date}, booking ref is in my email, can you check the baggage rules?",
        "Born in {city}, now based in {city}. Help me write an About Me paragraph.",
        "Delivery failed, I'm at home in {city} all day tomorrow.",
        "ship to {city_pc} please, not the billing address",
        "I work night shifts at the hospital in {city} and can't sleep during the day, any tips?",
    ], "de": ["Ich wohne seit Mai in {city_pc}."], "fr": ["J'ai déménagé à {city_pc} en juin."],
        "es": ["Vivo en {city} desde el año pasado."], "it": ["Abito a {city} con mia madre."],
        "nl": ["Ik woon in {city} en werk in {city}."], "pl": ["Mieszkam w {city} od dwóch lat."],
        "pt": ["Moro em {city} com minha família."], "sv": ["Jag bor i {city} sedan i våras."],
    },
    "postcode": {"*": [
        "Is same-day delivery available for postcode {postcode}? That's where I live.",
        "my zip is {postcode}, why does checkout say you can't deliver here?",
        "Billing postcode: {postcode} - the card keeps getting declined, is it the postcode?",
        "Please send the engineer to {city_pc}, flat 3, ring twice.",
        "Home: {city_pc}. Work: {city}. Which gym is between the two?",
        "The form asks for my post code, I typed {postcode} but it says invalid.",
    ], "de": ["Meine Postleitzahl ist {postcode}, warum wird nicht geliefert?"],
        "fr": ["Mon code postal est {postcode}."], "es": ["Mi código postal es {postcode}."],
        "nl": ["Mijn postcode is {postcode}."], "pl": ["Mój kod pocztowy to {postcode}."],
        "pt": ["Meu CEP é {postcode}."] , "it": ["Il mio CAP è {postcode}."],
    },
    "email": {"*": [
        "You can reach me at {email} if the link doesn't work.",
        "Please forward the receipt to {email}, my old address bounced.",
        "Write a cold email to {email} introducing our logistics software.",
        "Customer {name} <{email}> says she was charged twice.",
        "Reply to {email}: thank them for the feedback and promise a fix next sprint.",
        "Contact: {email} / {phone}",
        "{{\"name\": \"{name}\", \"email\": \"{email}\", \"plan\": \"pro\"}}",
        "From: {email}\nTo: support@{domain}\nSubject: cannot log in\n\nI reset my password three times.",
        "my login is {email}, I forgot the password and the reset mail never comes",
        "Can you extract the sender and the request from this? '{first} here ({email}), please cancel my trial.'",
        "cc {email} on the offer letter for {name}",
    ], "de": ["Sie erreichen mich unter {email}."], "fr": ["Vous pouvez m'écrire à {email}."],
        "es": ["Mi correo es {email}."], "it": ["La mia email è {email}."], "nl": ["Mijn e-mailadres is {email}."],
        "pl": ["Mój adres e-mail to {email}."], "pt": ["Meu e-mail é {email}."], "sv": ["Min e-post är {email}."],
    },
    "phone": {"*": [
        "Call me on {phone} when the courier is close.",
        "My number changed, it's now {phone}. Please update the file.",
        "{phone}",
        "Can you text {first} at {phone} that the meeting moved to 3pm?",
        "Tel: {phone}\nFax: {phone}",
        "Best reached at {phone} between 9 and 12.",
        "The pharmacy needs to confirm the prescription, they can reach me at {phone}.",
        "I keep getting spam calls since I gave {phone} to your survey, please delete it.",
        "{name}\nMobile {phone}\n{email}",
        "Emergency contact: {name}, {phone} (husband)",
        "please ring {tlast} on {phone} about the boiler",
        "Reservation for 4 under {last}, phone {phone}, Saturday 8pm.",
    ], "de": ["Rufen Sie mich bitte unter {phone} an.", "Meine Handynummer: {phone}"],
        "fr": ["Vous pouvez m'appeler au {phone}.", "Mon portable : {phone}"],
        "es": ["Llámame al {phone}, por favor."], "it": ["Potete chiamarmi al {phone}."],
        "nl": ["Bel me op {phone}."], "pl": ["Proszę dzwonić pod numer {phone}."],
        "pt": ["Me liga no {phone}."], "sv": ["Ring mig på {phone}."], "da": ["Ring til mig på {phone}."],
        "fi": ["Soita minulle numeroon {phone}."],
    },
    "credit_card": {"*": [
        "I see a charge I didn't make on my {cardword} {card}, how do I dispute it?",
        "Please refund the {amount} to the card ending... actually the full number is {card}.",
        "Card: {card} exp 09/27 - it got declined at checkout, why?",
        "{card}",
        "My {cardword} {card} was stolen yesterday in {city}; what should I do first?",
        "Can you check if the number {card} is a valid card? I typed it from a photo.",
        "Payment details for the booking: {name}, {card}, billing {address1}",
        "{{\"cardholder\": \"{name}\", \"pan\": \"{card}\", \"amount\": \"{amount}\"}}",
        "the hotel charged {card} twice for one night, write a dispute letter",
    ], "de": ["Meine Kreditkartennummer ist {card}."], "fr": ["Ma carte bancaire : {card}."],
        "es": ["Mi tarjeta es la {card}."], "it": ["Il numero della mia carta è {card}."],
    },
    "iban": {"*": [
        "Please send the refund to my account {iban}.",
        "My IBAN is {iban}, name on the account {name}.",
        "The direct debit from {iban} failed, can you explain why?",
        "Write a bank dispute: a payment of {amount} left {iban} on {date} without my consent.",
        "{iban}",
        "Update payroll for {name}: new bank account {iban}.",
        "IBAN: {iban}\nBIC: {bic}\nAccount holder: {name}",
        "is {iban} a real iban? the supplier sent it by email and I'm suspicious",
        "{{\"payee\": \"{name}\", \"iban\": \"{iban}\"}}",
    ], "de": ["Bitte überweisen Sie den Betrag auf {iban}."], "fr": ["Mon IBAN : {iban}"],
        "es": ["Mi cuenta es {iban}."], "it": ["Il mio IBAN è {iban}."], "nl": ["Mijn rekeningnummer is {iban}."],
        "pl": ["Mój numer konta to {iban}."], "pt": ["Minha conta: {iban}."],
    },
    "ssn": {"*": [
        "My SSN is {ssn}, do I need it for the W-4?",
        "The HR form asks for social security number; mine is {ssn}.",
        "Patient intake: {name}, DOB {dob}, SSN {ssn}, insurance pending.",
        "SSN: {ssn}",
        "Can you fill this tax form for me? Name {name}, social {ssn}, address {address1}.",
        "I think someone used my social security number {ssn} to open a credit card.",
        "{{\"employee\": \"{name}\", \"ssn\": \"{ssn}\", \"start\": \"{date}\"}}",
        "the bank asked for the last four but I gave the whole thing, {ssn}, was that a mistake?",
    ]},
    "national_id": {"*": [
        "My {natidword} is {natid}, do you need anything else for the account?",
        "For the tax refund: {name}, {natidword} {natid}.",
        "The clinic asks for my {natidword}: {natid}",
        "{natid}",
        "New starter form - Name: {name}; ID: {natid}; Start date: {date}",
        "I typed my {natidword} {natid} into a phishing site, what now?",
        "{{\"name\": \"{name}\", \"national_id\": \"{natid}\"}}",
    ], "de": ["Meine Sozialversicherungsnummer lautet {natid}."], "fr": ["Mon numéro de sécu : {natid}"],
        "es": ["Mi DNI es {natid}."], "it": ["Il mio codice fiscale è {natid}."], "nl": ["Mijn BSN is {natid}."],
        "pl": ["Mój PESEL to {natid}."], "pt": ["Meu CPF é {natid}."], "sv": ["Mitt personnummer är {natid}."],
    },
    "ip_address": {"*": [
        "My home IP is {ip}, can you whitelist it for the VPN?",
        "Someone logged into my account from {ip}, I don't recognise it.",
        "I'm {name}, my router's public address is {ip} and port forwarding doesn't work.",
        "Login alert: new sign-in for {email} from {ip} on {date}.",
        "Please unban my IP {ip}, I'm a paying customer.",
        "{ip}",
        "the game server kicked me, my ip is {ip}",
    ]},
    "date": {"*": [
        "My date of birth is {dob}; the form keeps saying I'm under 18.",
        "Born {dob}. Am I eligible for the senior discount?",
        "Patient: {name}, DOB: {dob}, allergies: penicillin.",
        "DOB {dob}",
        "My son was born on {dob}, when is his next vaccination due?",
        "I started on {date} and was let go on {date}; how much notice pay am I owed?",
        "My wedding anniversary is {date}, help me plan a surprise.",
        "{{\"patient\": \"{name}\", \"dob\": \"{dob}\"}}",
        "Need a sick note for {name}, off work from {date} to {date}.",
        "I was diagnosed on {date} and my insurance claim was rejected.",
    ], "de": ["Ich bin am {dob} geboren."], "fr": ["Je suis né le {dob}."], "es": ["Nací el {dob}."],
        "it": ["Sono nata il {dob}."], "nl": ["Ik ben geboren op {dob}."], "pl": ["Urodziłem się {dob}."],
        "pt": ["Nasci em {dob}."], "sv": ["Jag är född {dob}."],
    },
    "drivers_license": {"*": [
        "My driver's license number is {dl}, the rental desk says it doesn't scan.",
        "DL# {dl}",
        "Renting a car for {name}, driver's licence no. {dl}, pickup {date}.",
        "I lost my wallet with my DL {dl} inside; do I report it to the DMV or police?",
        "Fill the accident report: driver {name}, licence no. {dl}, address {address1}.",
        "the cop wrote down my driver license {dl} wrong on the ticket",
        "{{\"driver\": \"{name}\", \"drivers_license\": \"{dl}\"}}",
    ]},
    "passport": {"*": [
        "My passport number is {passport}, expires next May. Can I still travel to Japan?",
        "Booking for {name}, passport {passport}, flight on {date}.",
        "Passport No.: {passport}",
        "The visa form rejects my passport number {passport}, is the format wrong?",
        "I need to add passport details to my reservation: {passport}, nationality {country}.",
        "Lost passport {passport} in {city} yesterday, write to the embassy for me.",
        "{{\"traveller\": \"{name}\", \"passport\": \"{passport}\", \"dob\": \"{dob}\"}}",
    ]},
}

SLOT_RE = re.compile(r"\{(\w+)\}")


def render(carrier: str, v: Values) -> tuple[str, list[list[int | str]]]:
    slot_fns: dict[str, Callable[[], list[Seg]]] = {
        "name": v.name, "first": v.first, "last": v.last, "tlast": v.titled_last, "street": v.street,
        "address": v.address, "address1": v.address1, "city": v.city, "postcode": v.postcode, "city_pc": v.city_pc,
        "email": v.email, "phone": v.phone, "card": v.card, "iban": v.iban, "ssn": v.ssn, "natid": v.national_id,
        "passport": v.passport, "dl": v.dl, "ip": v.ip, "dob": v.dob, "date": v.date, "company": v.company,
        "order": v.order, "amount": v.amount, "job": v.job,
        "cardword": lambda: [(v.card_type_name(), None)], "natidword": lambda: [(v.national_id_name(), None)],
        "domain": lambda: [(v.fk.domain_name(), None)], "bic": lambda: [(v.fk.swift(), None)],
        "country": lambda: [(v.fk.country(), None)],
    }
    # unescape JSON braces written as {{ }}
    parts: list[str] = []
    spans: list[list[int | str]] = []
    pos = 0
    text = carrier.replace("{{", "\x01").replace("}}", "\x02")
    for m in SLOT_RE.finditer(text):
        lit = text[pos:m.start()].replace("\x01", "{").replace("\x02", "}")
        parts.append(lit)
        pos = m.end()
        start = sum(len(p) for p in parts)
        in_json = carrier.lstrip().startswith("{{")
        for seg, typ in slot_fns[m.group(1)]():
            seg = seg.replace("\n", ", ") if in_json else seg
            if typ is not None and seg.strip():
                lead = len(seg) - len(seg.lstrip())
                spans.append([start + lead, start + len(seg.rstrip()), typ])
            parts.append(seg)
            start += len(seg)
    parts.append(text[pos:].replace("\x01", "{").replace("\x02", "}"))
    return "".join(parts), spans


# ---------------------------------------------------------------------------------------------- negatives

def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def non_luhn16(rng: random.Random) -> str:
    while True:
        n = str(rng.randint(10**15, 10**16 - 1))
        if not luhn_ok(n):
            return n


def isbn13(rng: random.Random) -> str:
    body = "978" + "".join(str(rng.randint(0, 9)) for _ in range(9))
    check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10
    b = body + str(check)
    return f"{b[:3]}-{b[3]}-{b[4:8]}-{b[8:12]}-{b[12]}"


def neg_code(rng: random.Random, fk: Faker) -> str:
    port = rng.choice([3000, 5432, 6379, 8080, 8443, 9200, 27017, 11434])
    ver = f"{rng.randint(0, 5)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"
    uid, sha = fk.uuid4(), fk.sha1()
    priv = rng.choice(["127.0.0.1", "localhost", "0.0.0.0", f"10.0.{rng.randint(0, 9)}.{rng.randint(1, 254)}",
                       f"192.168.{rng.randint(0, 5)}.{rng.randint(1, 254)}", f"172.16.0.{rng.randint(1, 254)}"])
    n = rng.randint(2, 10**6)
    opts = [
        f"Why does this fail?\n```python\nimport requests\nr = requests.get('http://{priv}:{port}/health', timeout=5)\n"
        f"print(r.status_code)\n```\nI get ConnectionRefused.",
        f"Explain this SQL: SELECT id, total FROM orders WHERE created_at > '2023-0{rng.randint(1, 9)}-01' "
        f"AND total > {n} ORDER BY total DESC LIMIT {rng.randint(5, 100)};",
        f"After upgrading to v{ver} the build breaks with `TypeError: undefined is not a function` at line "
        f"{rng.randint(10, 900)}. What changed?",
        f"git says `detached HEAD at {sha[:7]}`; how do I get back to main? Full hash is {sha}.",
        f"Is `{uid}` a valid UUIDv4? The regex I wrote rejects it.",
        f"My Windows build is 10.0.{rng.choice([19041, 19045, 22000, 22621, 22631])}.{rng.randint(100, 4000)}; "
        f"does WSL2 support it?",
        f"const cfg = {{ host: '{priv}', port: {port}, retries: {rng.randint(1, 9)} }};\nwhy is retries ignored?",
        f"docker run -p {port}:{port} -e WORKERS={rng.randint(1, 16)} myimage:{ver} exits with code "
        f"{rng.choice([1, 137, 139, 143])}, what does it mean?",
        f"def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nprint(fib({rng.randint(20, 40)}))  "
        f"# too slow, how to memoize?",
        f"numpy gives shape ({rng.randint(2, 512)}, {rng.randint(2, 512)}) but I expected a vector; "
        f"I'm on numpy {ver}.",
        f"Convert 0x{fk.hexify('^^^^^^^^')} to decimal and explain two's complement.",
        f"In Kubernetes, the pod {fk.word()}-{fk.hexify('^^^^^^^^^')}-{fk.lexify('?????')} is CrashLoopBackOff, "
        f"logs say 'bind: address already in use :{port}'.",
        f"Regex to match semantic versions like {ver} or {ver}-rc.{rng.randint(1, 5)}?",
        f"pip install torch=={rng.randint(1, 2)}.{rng.randint(0, 6)}.{rng.randint(0, 3)} fails on "
        f"Python 3.{rng.randint(8, 13)}",
        f"SELECT COUNT(*) FROM events WHERE ts BETWEEN {rng.randint(1_600_000_000, 1_700_000_000)} AND "
        f"{rng.randint(1_700_000_001, 1_750_000_000)}; -- returns 0, why?",
        f"What is the time complexity of this loop? for (let i = 1; i < {n}; i *= 2) {{ sum += i; }}",
    ]
    return rng.choice(opts)


def neg_math(rng: random.Random, fk: Faker) -> str:
    a, b = rng.randint(100, 99999), rng.randint(2, 9999)
    big = non_luhn16(rng)
    opts = [
        f"What is {a} × {b}? Show the long multiplication.",
        f"Is {big} divisible by 7? Explain the rule.",
        f"Solve for x: {rng.randint(2, 20)}x + {rng.randint(1, 99)} = {rng.randint(100, 999)}",
        f"Factor {a * b} into primes.",
        f"The speed of light is 299,792,458 m/s. How long does light take to travel {a} km?",
        f"Compute the determinant of [[{rng.randint(1, 9)}, {rng.randint(1, 9)}], [{rng.randint(1, 9)}, "
        f"{rng.randint(1, 9)}]].",
        f"A train leaves at {rng.randint(1, 12)}:{rng.randint(10, 59)} going {rng.randint(40, 120)} km/h; "
        f"when does it cover {rng.randint(100, 900)} km?",
        f"What happened after the treaty of {rng.choice([1648, 1713, 1815, 1919, 1494, 1555])}?",
        f"Avogadro's number is 6.022 × 10^23. How many molecules are in {rng.randint(2, 50)} g of water?",
        f"Round {rng.random() * 1000:.6f} to 3 significant figures.",
        f"Why is the 16-digit number {big} not a valid card number? Walk me through the Luhn check.",
        f"Convert {a} seconds into hours, minutes and seconds.",
        f"Integrate x^{rng.randint(2, 7)} · e^x dx from 0 to {rng.randint(1, 5)}.",
        f"If I invest {a} at {rng.randint(2, 9)}% compounded yearly, what do I have after {rng.randint(5, 40)} years?",
        f"In {rng.choice([1066, 1492, 1789, 1848, 1914, 1945, 1969, 1989])} what was the most important event in "
        f"Europe, and why?",
        f"Estimate pi using {rng.randint(1000, 10**7)} random points in a Monte Carlo simulation.",
        f"The sequence {', '.join(str(rng.randint(1, 99)) for _ in range(6))}, ... what comes next?",
    ]
    return rng.choice(opts)


def neg_mcq(rng: random.Random, fk: Faker) -> str:
    qs = [("Which planet is largest?", ["Mars", "Jupiter", "Venus", "Mercury"]),
          ("Which gas do plants absorb?", ["Oxygen", "Nitrogen", "Carbon dioxide", "Helium"]),
          ("What is the capital of Australia?", ["Sydney", "Canberra", "Melbourne", "Perth"]),
          ("Which is a prime number?", ["21", "27", "31", "35"]),
          ("Which data structure is LIFO?", ["Queue", "Stack", "Heap", "Tree"]),
          ("Which river flows through Vienna?", ["Rhine", "Danube", "Elbe", "Seine"]),
          ("What is 7 × 8?", ["54", "56", "64", "48"]),
          ("Which organ produces insulin?", ["Liver", "Pancreas", "Kidney", "Spleen"])]
    q, opts = rng.choice(qs)
    opts = opts[:]
    rng.shuffle(opts)
    style = rng.random()
    if style < 0.5:
        body = "\n".join(f"{chr(65 + i)}. {o}" for i, o in enumerate(opts))
    else:
        body = " ".join(f"({chr(97 + i)}) {o}" for i, o in enumerate(opts))
    return f"{q}\n{body}\nAnswer:" if rng.random() < 0.5 else f"Question {rng.randint(1, 60)}: {q} {body}"


def neg_product(rng: random.Random, fk: Faker) -> str:
    brand = rng.choice(["Samsung", "Apple", "Bosch", "IKEA", "Lego", "Sony", "Logitech", "Dyson", "Philips",
                        "Nike", "Canon", "Lenovo"])
    stamp = REFERENCE - dt.timedelta(seconds=rng.randint(0, 2 * 365 * 86400), microseconds=rng.randint(0, 999999))
    sku = f"{fk.lexify('???').upper()}-{rng.randint(1000, 99999)}-{fk.lexify('??').upper()}"
    opts = [
        f"Compare the {brand} {fk.lexify('??').upper()}{rng.randint(100, 9900)} with last year's model for "
        "battery life.",
        f"Write a product description for SKU {sku}: stainless steel water bottle, 750 ml, keeps drinks cold 24h.",
        f"Order {rng.randint(100000, 999999)} shows 'processing' for a week; generic question, how long do "
        f"marketplaces usually take?",
        f"Is ISBN {isbn13(rng)} the paperback or the hardcover edition of that novel?",
        f"Our inventory sheet lists item {sku} with quantity {rng.randint(0, 5000)} at {rng.randint(1, 900)}.99 each; "
        f"compute total stock value.",
        f"Log line: {stamp.isoformat()}Z INFO worker-{rng.randint(1, 64)} processed "
        f"{rng.randint(1, 10**5)} jobs in {rng.randint(1, 9999)} ms. Is that throughput OK?",
        f"Write a tagline for {rng.choice(['Nike', 'Adidas', 'Asics', 'Puma'])}'s new running shoe, model "
        f"{fk.lexify('??').upper()}-{rng.randint(1, 99)}.",
        f"Which is better value: {brand} {rng.randint(32, 85)}-inch TV at {rng.randint(300, 2500)} or the "
        f"{rng.choice(['LG', 'TCL', 'Hisense'])} one at {rng.randint(300, 2500)}?",
        f"Tracking shows parcel class {fk.lexify('??').upper()} weight {rng.randint(1, 30)}.{rng.randint(0, 9)} kg; "
        f"how are shipping tiers usually priced?",
        f"Unix timestamp {rng.randint(1_500_000_000, 1_800_000_000)} - what date is that in UTC?",
        f"Part number {rng.randint(10, 99)}-{rng.randint(1000, 9999)}-{rng.randint(100, 999)} fits which "
        f"{rng.choice(['Toyota', 'Ford', 'VW'])} models generally?",
        f"Summarise the quarterly report: revenue {rng.randint(10, 900)}.{rng.randint(1, 9)}M, up "
        f"{rng.randint(1, 40)}% year on year, {rng.randint(100, 90000)} employees.",
    ]
    return rng.choice(opts)


FAMOUS = [("Leonardo da Vinci", "painted the Mona Lisa"), ("Marie Curie", "won two Nobel Prizes"),
          ("Albert Einstein", "developed general relativity"), ("Napoleon Bonaparte", "lost at Waterloo"),
          ("William Shakespeare", "wrote Hamlet"), ("Ada Lovelace", "wrote the first algorithm"),
          ("Isaac Newton", "formulated the laws of motion"), ("Frida Kahlo", "painted self-portraits"),
          ("Nelson Mandela", "became president of South Africa"), ("Johann Sebastian Bach", "composed the "
           "Brandenburg Concertos"), ("Cleopatra", "ruled Egypt"), ("Galileo Galilei", "observed Jupiter's moons"),
          ("Charles Darwin", "proposed natural selection"), ("Queen Victoria", "reigned for 63 years")]
CITIES_TOPIC = ["Lyon", "Munich", "Kraków", "Porto", "Gothenburg", "Rotterdam", "Seville", "Bologna", "Aarhus",
                "Zurich", "Mumbai", "Edinburgh", "Chicago", "Tampere", "Graz", "São Paulo", "Dublin"]


def neg_knowledge(rng: random.Random, fk: Faker) -> str:
    person, fact = rng.choice(FAMOUS)
    city = rng.choice(CITIES_TOPIC)
    opts = [
        f"Who {fact}?", f"Tell me three facts about {person}.", f"When was {person} born and why is {person} "
        f"famous?", f"Why do historians say {person} {fact}?", f"Which person {fact}? a) {person} b) someone else",
        f"What is the population of {city}?", f"What is {city} known for, historically?",
        f"Plan a 3-day itinerary for a trip to {city} focused on museums.",
        f"Compare the climate of {city} and {rng.choice(CITIES_TOPIC)} in winter.",
        f"Write a short essay on the legacy of {person}.",
        f"Is it true that {person} {fact}? Cite the usual sources.",
        f"What companies are headquartered in {city}?",
        f"Who is the CEO of {rng.choice(['Microsoft', 'Siemens', 'Nestlé', 'Toyota', 'Spotify', 'Airbus'])} "
        f"and when did they start?",
        f"Explain {rng.choice(['Apple', 'Volkswagen', 'Unilever', 'Samsung', 'Ericsson'])}'s business model in "
        f"simple terms.",
    ]
    return rng.choice(opts)


BOOKS = ["Moby-Dick", "Don Quixote", "Pride and Prejudice", "Faust", "Les Misérables", "War and Peace"]


def neg_misc(rng: random.Random, fk: Faker) -> str:
    teams = ["Arsenal", "Bayern Munich", "Real Madrid", "Juventus", "Ajax", "PSG", "Celtics", "Lakers", "Yankees"]
    t1, t2 = rng.sample(teams, 2)
    laps = ", ".join(f"{rng.randint(1, 2)}:{rng.randint(10, 59)}.{rng.randint(100, 999)}" for _ in range(4))
    opts = [
        f"{t1} beat {t2} {rng.randint(0, 6)}-{rng.randint(0, 5)} last night; write a match report.",
        f"Final score {rng.randint(80, 130)}-{rng.randint(80, 130)}. Was that the highest-scoring game of the season?",
        f"Recipe: {rng.randint(200, 600)} g flour, {rng.randint(2, 4)} eggs, {rng.randint(100, 500)} ml milk, "
        f"bake at {rng.choice([180, 200, 220])} °C for {rng.randint(15, 60)} minutes. Can I halve it?",
        f"How long should I boil a {rng.randint(3, 9)}-minute egg at {rng.randint(500, 2500)} m altitude?",
        f"Convert {rng.randint(1, 12)} cups of sugar to grams.",
        f"Give me a {rng.randint(3, 12)}-week training plan to run {rng.choice([5, 10, 21, 42])} km.",
        f"Translate into Spanish: the meeting is on floor {rng.randint(2, 40)}, room {rng.randint(100, 999)}.",
        "Write a haiku about autumn in the mountains.",
        f"What's a good name for a bakery that sells sourdough and {fk.word()} pastries?",
        "Rank these for a beginner: chess, go, checkers, backgammon.",
        f"Our team scored {rng.randint(50, 100)}% on the quiz; the average was {rng.randint(30, 90)}%. Write "
        f"an encouraging message to the whole class.",
        f"Summarise the plot of {rng.choice(BOOKS)} in {rng.randint(3, 10)} sentences.",
        f"Lap times: {laps}. What's the average?",
        f"Flight {rng.choice(['LH', 'BA', 'AF', 'KL', 'UA'])}{rng.randint(100, 9999)} usually departs at "
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}; how early should travellers arrive in general?",
    ]
    return rng.choice(opts)


NEGATIVE_GENERATORS: list[Callable[[random.Random, Faker], str]] = [neg_code, neg_math, neg_mcq, neg_product,
                                                                   neg_knowledge, neg_misc]


# ---------------------------------------------------------------------------------------------- build

def build(n_positive: int, n_negative: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    fakers: dict[str, Faker] = {}
    for i, loc in enumerate(LOCALES):
        fk = Faker(loc)
        fk.seed_instance(seed + i)
        fakers[loc] = fk
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    i = 0
    attempts = 0
    used: Counter[str] = Counter()
    while len(rows) < n_positive and attempts < n_positive * 20:
        attempts += 1
        typ = TYPES[i % len(TYPES)]
        if typ in ("ssn", "drivers_license"):
            loc = "en_US"
        else:  # the least-used eligible locale keeps types and locales balanced
            eligible = sorted(NATIONAL_ID) if typ == "national_id" else LOCALES
            low = min(used[x] for x in eligible)
            loc = rng.choice([x for x in eligible if used[x] == low])
        lang_pool = CARRIERS[typ].get(LANG[loc], [])
        pool = lang_pool if lang_pool and rng.random() < 0.3 else CARRIERS[typ]["*"]
        carrier = rng.choice(pool)
        text, spans = render(carrier, Values(rng, fakers[loc], loc, fakers))
        if text in seen or not any(s[2] == typ for s in spans):
            continue
        seen.add(text)
        used[loc] += 1
        rows.append({"id": f"pos-{len(rows):05d}", "text": text, "locale": loc, "spans": spans, "group": GROUP[typ]})
        i += 1
    neg_fk = Faker("en_US")
    neg_fk.seed_instance(seed + 1000)
    j = 0
    while j < n_negative:
        gen = NEGATIVE_GENERATORS[j % len(NEGATIVE_GENERATORS)]
        text = gen(rng, neg_fk)
        if text in seen:
            continue
        seen.add(text)
        rows.append({"id": f"neg-{j:05d}", "text": text, "locale": "none", "spans": [], "group": "negative"})
        j += 1
    return rows


def meta(rows: list[dict[str, object]], seed: int) -> dict[str, object]:
    per_type: Counter[str] = Counter()
    per_locale: Counter[str] = Counter()
    per_group: Counter[str] = Counter()
    for r in rows:
        per_group[str(r["group"])] += 1
        per_locale[str(r["locale"])] += 1
        spans = r["spans"]
        assert isinstance(spans, list)
        for t in {s[2] for s in spans}:
            per_type[t] += 1
    return {
        "name": SET_NAME, "generator": "scripts/make_pii_eval.py", "faker_version": faker.VERSION, "seed": seed,
        "locales": LOCALES, "samples": len(rows), "per_group": dict(sorted(per_group.items())),
        "sentences_per_type": dict(sorted(per_type.items())), "samples_per_locale": dict(sorted(per_locale.items())),
        "licence": "Generated data. Values come from Faker (MIT licence) and are synthetic: no real people, "
                   "accounts or addresses. Carrier sentences and negatives were written for smallfirst (Apache-2.0).",
        "notes": "Written independently of the detector (its code was not read). Sentence-level labels: a sample "
                 "with any span is personal data; 'negative' samples hold none (public figures in knowledge "
                 "questions, cities as topics, code, maths, SKUs are negatives).",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--positives", type=int, default=2100)
    ap.add_argument("--negatives", type=int, default=720)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    if os.environ.get("PYTHONHASHSEED") != "0":
        # some Faker providers (it_IT cities, for one) draw from sets, whose order follows the string hash
        # seed: rerun with a fixed one so the output is the same in every process
        argv = sys.argv[1:] if argv is None else argv
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        return subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv], env=env, check=False).returncode
    with fixed_clock():
        rows = build(args.positives, args.negatives, args.seed)
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    m = meta(rows, args.seed)
    meta_path = out.with_name(out.name.removesuffix(".jsonl") + ".meta.json")
    meta_path.write_text(json.dumps(m, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(rows)} samples to {out} ({m['per_group']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
