"""Redaction: mask before a non-local tier, restore in the answer (also across streamed deltas)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smallfirst.core.types import ChatRequest
from smallfirst.sensitivity import Detector, RedactionMap, StreamRestorer, restore

EMAIL = "jane.doe@example.org"
PHONE = "+44 20 7946 0958"


@pytest.fixture(scope="module")
def det() -> Detector:
    return Detector()


def test_redact_and_restore_round_trip(det: Detector) -> None:
    text = f"Write to {EMAIL} or call {PHONE}; again: {EMAIL}."
    masked, mapping = det.redact(text)
    assert masked == "Write to [EMAIL_1] or call [PHONE_1]; again: [EMAIL_1]."
    assert EMAIL not in masked and PHONE not in masked
    assert restore("Sure, I emailed [EMAIL_1] and called [PHONE_1].", mapping) == (
        f"Sure, I emailed {EMAIL} and called {PHONE}.")
    assert restore("unknown [EMAIL_9] and [not a placeholder] stay", mapping) == (
        "unknown [EMAIL_9] and [not a placeholder] stay")


def test_mapping_repr_hides_values(det: Detector) -> None:
    _, mapping = det.redact(f"key sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz1234567890AbCdEfGh mail {EMAIL}")
    shown = repr(mapping) + str(mapping)
    assert "sk-proj" not in shown and EMAIL not in shown
    assert "[SECRET_OPENAI_KEY_1]" in shown and len(mapping) == 2


def test_text_without_findings_is_unchanged(det: Detector) -> None:
    masked, mapping = det.redact("nothing to see here, version 1.2.3")
    assert masked == "nothing to see here, version 1.2.3" and not mapping


def test_redact_request_masks_every_part_with_one_mapping(det: Detector) -> None:
    args = json.dumps({"to": EMAIL})
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": f"mail {EMAIL}"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "send", "arguments": args}}]},
        {"role": "tool", "tool_call_id": "c1", "content": f"sent to {EMAIL}, reply from {PHONE}"},
    ]
    request = ChatRequest(model="m", messages=messages, body={"messages": messages, "temperature": 0.1,
                                                             "user": EMAIL})
    masked, mapping = det.redact_request(request)
    dumped = json.dumps(masked.body) + json.dumps(masked.messages)
    assert EMAIL not in dumped and PHONE not in dumped
    assert masked.messages[0]["content"][0]["text"] == "mail [EMAIL_1]"
    assert json.loads(masked.messages[1]["tool_calls"][0]["function"]["arguments"]) == {"to": "[EMAIL_1]"}
    assert masked.body["temperature"] == 0.1 and masked.body["messages"] is masked.messages
    assert masked.body["user"] == "[EMAIL_1]"
    assert set(mapping.placeholders()) == {"[EMAIL_1]", "[PHONE_1]"}
    assert request.messages[0]["content"][0]["text"] == f"mail {EMAIL}"  # the original is untouched


def test_stream_restorer_handles_split_placeholders() -> None:
    mapping = RedactionMap()
    ph = mapping.placeholder("email", EMAIL)
    assert ph == "[EMAIL_1]"
    deltas = ["Sent to [EM", "AIL_", "1] and [", "x] then [EMAIL_1", "]", " done ["]
    out = "".join(StreamRestorer(mapping).restore_all(deltas))
    assert out == f"Sent to {EMAIL} and [x] then {EMAIL} done ["
    r = StreamRestorer(mapping)
    assert r.feed("a [EMA") == "a " and r.flush() == "[EMA"
