"""The cheap pre-filters (``requires``, needles, the detector's gate) only skip texts that cannot match."""

from __future__ import annotations

import dataclasses

from smallfirst.sensitivity import Detector, default_recognizers
from smallfirst.sensitivity.recognizers import Recognizer, RegexRecognizer
from tests.unit.sensitivity.test_detector_corpus import NEAR_MISSES, POSITIVES


def _unfiltered(rec: Recognizer) -> Recognizer:
    if isinstance(rec, RegexRecognizer):
        return dataclasses.replace(rec, needles=(), requires="")
    return rec


def _texts() -> list[str]:
    base = [t for _, t in POSITIVES + NEAR_MISSES]
    # Unicode digits match ``\d`` too: the filters must not assume ASCII
    return [*base, *(t.upper() for t in base), *(t.lower() for t in base),
            "card ٤١١١ 1111 1111 1111 ok", "ip 8.8.8.8 and ١.١.١.١"]


def test_requires_is_a_necessary_condition() -> None:
    filtered = default_recognizers()
    for text in _texts():
        lower = text.lower()
        for rec in filtered:
            assert list(rec.find(text, lower)) == list(_unfiltered(rec).find(text, lower)), (rec.entity, text)


def test_gate_and_filters_do_not_change_detection() -> None:
    fast = Detector()
    slow = Detector([_unfiltered(r) for r in default_recognizers()])
    for text in _texts():
        assert fast.scan(text) == slow.scan(text), text
    assert slow._gate is None  # recognizers without needles: every text is scanned


def test_every_digit_free_recognizer_has_needles() -> None:
    assert Detector()._gate is not None
