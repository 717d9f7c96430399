"""Per-entity corpus: each positive must be found as exactly that entity, each near miss must not be."""

from __future__ import annotations

import pytest

from smallfirst.sensitivity import Detector


@pytest.fixture(scope="module")
def det() -> Detector:
    return Detector()


POSITIVES: list[tuple[str, str]] = [
    # email
    ("email", "Please write to jane.doe@example.org today."),
    ("email", "cc: obrien+news@mail.co.uk"),
    ("email", "Contact: anna_smith99@firma-beispiel.de"),
    # phone (international and national layouts)
    ("phone", "Call me on +44 20 7946 0958 after lunch."),
    ("phone", "mobile: +49 1512 3456789"),
    ("phone", "Tel +33 6 12 34 56 78"),
    ("phone", "US office (201) 555-0123, ask for Bob"),
    ("phone", "reach me at 201-555-0123"),
    ("phone", "Japan: +81 90-1234-5678"),
    ("phone", "+91 81234 56789 is my number"),
    ("phone", "0044 20 7946 0958"),
    ("phone", "E.164 +14155552671"),
    ("phone", "Festnetz 030 12345678"),
    ("phone", "portable: 06 12 34 56 78"),
    ("phone", "call 4155552671 tomorrow"),
    ("phone", "UK mobile 07400 123456"),
    # US SSN
    ("ssn", "SSN 536-22-8795 on file"),
    ("ssn", "social security number: 536228795"),
    ("ssn", "my social security is 536 22 8795"),
    # payment cards (Luhn-valid test numbers of several networks)
    ("credit_card", "Visa 4111 1111 1111 1111 exp 12/27"),
    ("credit_card", "card: 5555-5555-5555-4444"),
    ("credit_card", "amex 3782 822463 10005"),
    ("credit_card", "pay with 4012888888881881 please"),
    ("credit_card", "Discover 6011 1111 1111 1117"),
    ("credit_card", "JCB 3530111333300000"),
    # IBAN (mod-97 valid)
    ("iban", "IBAN DE89 3704 0044 0532 0130 00"),
    ("iban", "Pay GB29NWBK60161331926819 by Friday"),
    ("iban", "FR14 2004 1010 0505 0001 3M02 606"),
    ("iban", "NL91ABNA0417164300"),
    ("iban", "CH93 0076 2011 6238 5295 7"),
    # IP addresses (public)
    ("ip_address", "The login came from 81.2.69.142 at noon"),
    ("ip_address", "resolver 8.8.4.4"),
    ("ip_address", "client 2a00:1450:4001:81b::200e connected"),
    ("ip_address", "src=2606:4700:4700::1111"),
    # dates of birth in context
    ("date_of_birth", "DOB: 12/03/1985"),
    ("date_of_birth", "Date of birth 1985-03-12"),
    ("date_of_birth", "born on March 12, 1985 in Leeds"),
    ("date_of_birth", "birthdate: 3rd of July 1990"),
    ("date_of_birth", "Geburtsdatum: 12.03.1985"),
    ("date_of_birth", "D.O.B. 07/04/62"),
    # NHS numbers (mod-11 valid) in context
    ("nhs_number", "NHS number: 943 476 5919"),
    ("nhs_number", "NHS No. 4010232137"),
    ("nhs_number", "nhs# 485-777-3457"),
    # medical record numbers in context
    ("medical_record_number", "MRN: 00123456"),
    ("medical_record_number", "Medical record number A-2023-55871"),
    ("medical_record_number", "patient ID 77812345"),
    ("medical_record_number", "hospital no. RX99001234"),
    # passport-like numbers in context
    ("passport_number", "passport number X12345678"),
    ("passport_number", "Passport no: 533380006"),
    ("passport_number", "Reisepass-Nr. C01X00T47"),
    # addresses
    ("address", "Ship it to 221B Baker Street please"),
    ("address", "Our HQ is at 1600 Amphitheatre Parkway, Mountain View"),
    ("address", "Wohnt in der Hauptstraße 5"),
    ("address", "London SW1A 1AA"),
    # secrets
    ("secret.openai_key", "OPENAI_API_KEY=sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz1234567890AbCdEfGh"),
    ("secret.openai_key", "key sk-Z3xY9wV8uT7sR6qP5oN4mL3kJ2iH1gF0eD9cB8aA7zY6xW5v"),
    ("secret.anthropic_key", "sk-ant-api03-" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kM9nP2rS5uV8xA1dG4" + "AA"),
    ("secret.aws_access_key", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"),
    ("secret.aws_secret_key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("secret.github_token", "token ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R"),
    ("secret.github_token",
     "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345"),
    ("secret.google_api_key", "key=AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"),
    ("secret.slack_token", "SLACK_BOT_TOKEN=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
    ("secret.slack_token", "hook https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/AbCdEfGhIjKlMnOpQrStUvWx"),
    ("secret.stripe_key", "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc1234"),
    ("secret.jwt", "Authorization: token eyJhbGciOiAiUlMyNTYiLCAidHlwIjogIkpXVCJ9."
                   "eyJzdWIiOiAiNDIiLCAiZXhwIjogMTkwMDAwMDAwMH0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"),
    ("secret.private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----"),
    ("secret.private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA"),
    ("secret.connection_password", "DATABASE_URL=postgres://app:Tr0ub4dor3@db.internal:5432/prod"),
    ("secret.connection_password", "mongodb+srv://admin:s3cr3T!x@cluster0.mongodb.net/test"),
    ("secret.connection_password", "Server=tcp:db.example.net;Database=shop;User Id=sa;Password=Hunter2x!;"),
    ("secret.bearer_token", "Authorization: Bearer 9f8e7D6c5B4a3f2E1d0c9B8a7F6e5D4c"),
]


NEAR_MISSES: list[tuple[str, str]] = [
    # phone-like numbers that are not phones
    ("phone", "Python 3.11.7 and version 10.0.19041.1234"),
    ("phone", "It happened in 2023, or maybe 1999-2005."),
    ("phone", "Invoice dated 2024-01-15 and 15.01.2024 and 01/15/2024"),
    ("phone", "unix time 1700000000 and 1700000000123 ms"),
    ("phone", "ISBN 978-3-16-148410-0"),
    ("phone", "order 123456789 shipped"),
    ("phone", "price: 1 234 567 EUR"),
    ("phone", "coordinates 51.5074, -0.1278"),
    ("phone", "build 20230115 passed"),
    ("phone", "the numbers 1 2 3 4 5 6 7 8 9"),
    ("phone", "pi is 3.14159265358979"),
    ("phone", "sha 3f786850e387550fdab836ed7e6dc881de23001b"),
    ("phone", "uuid 123e4567-e89b-12d3-a456-426614174000"),
    ("phone", "+1234"),
    # invalid checksums and rules
    ("credit_card", "Visa 4111 1111 1111 1112 (bad Luhn)"),
    ("credit_card", "number 1234 5678 9012 3456"),
    ("credit_card", "all zeros 0000 0000 0000 0000"),
    ("credit_card", "tracking 9400 1000 0000 0000 0000 00"),
    ("iban", "IBAN DE89 3704 0044 0532 0130 01"),
    ("iban", "GB29NWBK6016133192681"),
    ("iban", "XX89 3704 0044 0532 0130 00"),
    ("ssn", "SSN 000-12-3456"),
    ("ssn", "SSN 666-12-3456"),
    ("ssn", "ssn: 912-34-5678"),
    ("ssn", "part no. 536-00-8795"),
    ("ssn", "example 078-05-1120"),
    ("ssn", "SKU 536228795"),
    ("nhs_number", "NHS number: 943 476 5918"),
    ("nhs_number", "reference 943 476 5919"),
    ("ip_address", "localhost 127.0.0.1 and 192.168.1.10 and 10.0.0.5"),
    ("ip_address", "docs 192.0.2.1 and 2001:db8::1 and fe80::1"),
    ("ip_address", "version 1.2.3.4"),
    ("ip_address", "at 12:30:45 and std::vector and 00:1A:2B:3C:4D:5E"),
    ("ip_address", "999.1.1.1 is not an address"),
    ("date_of_birth", "born in 1985"),
    ("date_of_birth", "Meeting on 12/03/1985"),
    ("date_of_birth", "DOB: 31/02/1985"),
    ("date_of_birth", "date of birth 2999-01-01"),
    ("medical_record_number", "MRN: pending"),
    ("medical_record_number", "patient ID abc"),
    ("passport_number", "passport photo required"),
    ("passport_number", "passport number ABCDEFGH"),
    ("email", "decorators like @property and npm @types/node"),
    ("email", "asset icon@2x.png and user@localhost"),
    ("email", "git@github.com:org/repo.git"),
    ("address", "I ran 5 miles down the street"),
    # secrets: placeholders, prose, look-alikes
    ("secret.openai_key", "set OPENAI_API_KEY=sk-... or sk-your-key-here"),
    ("secret.openai_key", "pip install scikit-learn (sk-learn)"),
    ("secret.openai_key", "sk-this-is-not-a-real-key-just-prose-text"),
    ("secret.aws_access_key", "AKIA is the prefix of access key ids"),
    ("secret.github_token", "ghp_ tokens start with ghp_"),
    ("secret.jwt", "eyJhbGciOi is how a JWT header starts"),
    ("secret.jwt", "eyJub3QiOiJhIHRva2VuIn0.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl"),
    ("secret.private_key", "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n-----END PUBLIC KEY-----"),
    ("secret.connection_password", "postgres://user:password@localhost/db"),
    ("secret.connection_password", "postgres://app:${DB_PASSWORD}@db/prod and mysql://root:<password>@h/x"),
    ("secret.connection_password", "https://example.com/path?q=1 and http://user@host/x"),
    ("secret.stripe_key", "publishable pk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("secret.bearer_token", "Authorization: Bearer <token>"),
]


@pytest.mark.parametrize(("entity", "text"), POSITIVES, ids=[f"{e}-{i}" for i, (e, _) in enumerate(POSITIVES)])
def test_positive_found_as_entity(det: Detector, entity: str, text: str) -> None:
    counts = det.detect_text(text).counts
    assert counts.get(entity, 0) == 1, f"{entity} not found once in {text!r}: {counts}"


@pytest.mark.parametrize(("entity", "text"), NEAR_MISSES, ids=[f"{e}-{i}" for i, (e, _) in enumerate(NEAR_MISSES)])
def test_near_miss_not_found(det: Detector, entity: str, text: str) -> None:
    counts = det.detect_text(text).counts
    assert entity not in counts, f"{entity} wrongly found in {text!r}: {counts}"


def test_plain_prose_and_code_have_no_findings(det: Detector) -> None:
    texts = [
        "Summarise the attached quarterly report in three bullet points for the board.",
        "def add(a: int, b: int) -> int:\n    return a + b  # v1.2.3, 2024-05-01\n",
        "Classify the sentiment of: 'The update to 17.4.1 broke my phone, 1 star.'",
        'SELECT id, total FROM orders WHERE created_at > "2023-01-01" LIMIT 100;',
        "Translate to German: The meeting moved from 10:30 to 11:45 in room 204.",
        '{"temperature": 0.7, "max_tokens": 256, "seed": 123456789, "top_p": 0.95}',
        "curl http://127.0.0.1:8080/v1/models -H 'Authorization: Bearer $SMALLFIRST_KEY'",
    ]
    for t in texts:
        assert not det.detect_text(t).sensitive, (t, det.detect_text(t))


def test_overlapping_identifiers_are_counted_once(det: Detector) -> None:
    # the IBAN's digits must not also count as a phone; the URL's password not also as an email
    f = det.detect_text("IBAN DE89 3704 0044 0532 0130 00 and postgres://bob:Xy9z8w7v@db.example.com/app")
    assert f.counts == {"iban": 1, "secret.connection_password": 1}


def test_counts_add_up_over_many_occurrences(det: Detector) -> None:
    text = "a@example.org, b@example.org and c@example.org; call +44 20 7946 0958"
    assert det.detect_text(text).counts == {"email": 3, "phone": 1}
