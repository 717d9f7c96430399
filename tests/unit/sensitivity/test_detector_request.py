"""Detector over whole requests: every message part is scanned, findings never carry the text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smallfirst.config.schema import ResidencyConfig
from smallfirst.core.errors import ConfigError
from smallfirst.core.types import ChatRequest, Signals
from smallfirst.sensitivity import Detector, Findings, attach, with_sensitivity
from smallfirst.sensitivity.phones import PhoneRecognizer

OPENAI_KEY = "sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz1234567890AbCdEfGh"
CARD = "4111 1111 1111 1111"


def req(messages: list[dict[str, Any]], **body: Any) -> ChatRequest:
    return ChatRequest(model="smallfirst/auto", messages=messages, body={"messages": messages, **body})


@pytest.fixture(scope="module")
def det() -> Detector:
    return Detector()


def test_scans_text_parts_tool_arguments_tool_results_and_names(det: Detector) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "name": "jane.doe@example.org",
         "content": [{"type": "text", "text": "Charge my card"},
                     {"type": "image_url", "image_url": {"url": "https://img.example.com/a.png"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "charge", "arguments": json.dumps({"card": CARD, "amount": 12})}}]},
        {"role": "tool", "tool_call_id": "call_1",
         "content": json.dumps({"ok": True, "iban": "GB29NWBK60161331926819"})},
        {"role": "user", "content": f"also my key is {OPENAI_KEY}"},
    ]
    f = det.detect(req(messages))
    assert f.counts == {"email": 1, "credit_card": 1, "iban": 1, "secret.openai_key": 1}
    assert f.data_classes == ("financial", "pii", "secret")


def test_scans_top_level_user_and_metadata_but_not_base64_payloads(det: Detector) -> None:
    blob = "QUtJQUlPU0ZPRE5ON0VYQU1QTEU0MTExMTExMTExMTExMTEx" * 4  # base64 noise
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "what is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + blob}},
        {"type": "input_audio", "input_audio": {"data": blob, "format": "wav"}},
    ]}]
    assert not det.detect(req(messages)).sensitive
    f = det.detect(req(messages, user="bob@example.com", metadata={"ticket": "call +44 20 7946 0958"}))
    assert f.counts == {"email": 1, "phone": 1}


def test_findings_never_contain_the_secret_or_value(det: Detector) -> None:
    text = f"key {OPENAI_KEY}, card {CARD}, mail jane.doe@example.org"
    f = det.detect_text(text)
    for shown in (repr(f), str(f), json.dumps(f.to_json()), repr(det.scan(text))):
        assert OPENAI_KEY not in shown and "sk-proj" not in shown
        assert "4111" not in shown and "jane.doe" not in shown
    assert f.total == 3 and f.sensitive
    assert f.by_class() == {"financial": {"credit_card": 1}, "pii": {"email": 1}, "secret": {"secret.openai_key": 1}}


def test_findings_merge_and_empty() -> None:
    a = Findings.from_counts({"email": 1})
    b = Findings.from_counts({"email": 2, "secret.jwt": 1, "iban": 0})
    assert a.merged(b).counts == {"email": 3, "secret.jwt": 1}
    assert str(Findings()) == "none" and not Findings().sensitive


def test_disabled_entities_and_unknown_names(det: Detector) -> None:
    text = "from 81.2.69.142 mail a@example.org"
    d = Detector.from_config(ResidencyConfig(disabled_entities=["ip_address"]))
    assert d.detect_text(text).counts == {"email": 1}
    assert "ip_address" not in d.entities and "ip_address" in det.entities
    with pytest.raises(ConfigError, match="unknown entity"):
        Detector.from_config(ResidencyConfig(disabled_entities=["ip_adress"]))


def test_phone_regions_come_from_config() -> None:
    # a national Indian mobile number is valid only if IN is among the regions
    text = "call 081234 56789"
    assert not Detector.from_config(ResidencyConfig(phone_regions=["GB"])).detect_text(text).sensitive
    assert Detector.from_config(ResidencyConfig(phone_regions=["IN"])).detect_text(text).counts == {"phone": 1}


def test_phone_digit_rule_fallback_keeps_false_positives_out() -> None:
    rec = PhoneRecognizer(use_library=False)
    assert rec.backend == "digit-rule"
    d = Detector([rec])
    assert d.detect_text("call +44 20 7946 0958 or (415) 555-2671").counts == {"phone": 2}
    for text in ("Python 3.11.7", "in 2023", "2024-01-15", "build 20230115", "order 123456789"):
        assert not d.detect_text(text).sensitive, text
    assert PhoneRecognizer().backend == "phonenumbers"


def test_ner_on_without_spacy_or_model_is_a_config_error() -> None:
    from smallfirst.sensitivity.boundary import BoundaryScreen

    with pytest.raises(ConfigError, match=r"residency\.ner"):
        BoundaryScreen.from_config(ResidencyConfig(ner=True, ner_model="no_such_pipeline_xyz"))
    assert not Detector.from_config(ResidencyConfig(ner=True)).uses_ner  # the cheap pass never loads NER


def test_with_sensitivity_attaches_findings_to_signals(det: Detector) -> None:
    fn = with_sensitivity(lambda r: Signals(task_type="chat", sensitive_classes=("phi",)), det)
    sig = fn(req([{"role": "user", "content": "my email is a@example.org"}]))
    assert sig.sensitive_classes == ("phi", "pii")
    assert isinstance(sig.sensitivity, Findings) and sig.sensitivity.counts == {"email": 1}
    assert attach(Signals(), Findings()).sensitive_classes == ()
