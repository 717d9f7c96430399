"""Confidence from token log-probabilities."""

from __future__ import annotations

import math
from typing import Any

import pytest

from smallfirst.cascade.confidence import confidence, label_masses, tokens_of

LABELS = ["positive", "negative"]


def lp(*tokens: tuple[str, float, list[tuple[str, float]]]) -> dict[str, Any]:
    return {"content": [{"token": t, "logprob": v, "top_logprobs": [{"token": a, "logprob": b} for a, b in top]}
                        for t, v, top in tokens]}


def test_label_share_is_normalised_over_the_labels() -> None:
    data = lp(("positive", math.log(0.3), [("positive", math.log(0.3)), ("Positive", math.log(0.1)),
                                           ("negative", math.log(0.2)), ("The", math.log(0.35))]))
    assert confidence(data, "label", "positive", LABELS) == pytest.approx(0.4 / 0.6)
    assert confidence(data, "label", "negative", LABELS) == pytest.approx(0.2 / 0.6)


def test_label_missing_from_the_list_gets_the_smallest_listed_probability() -> None:
    data = lp(("pos", math.log(0.5), [("pos", math.log(0.5)), ("The", math.log(0.3)), ("A", math.log(0.05))]),
              ("itive", -0.01, []))
    assert confidence(data, "label", "positive", LABELS) == pytest.approx(0.5 / 0.55)


def test_forced_quote_position_is_skipped_to_the_first_listing_labels() -> None:
    data = lp(('"', math.log(0.01), [("negative", math.log(0.4)), ("positive", math.log(0.1)), ('"', math.log(0.01))]),
              ("positive", math.log(0.02), [("w", math.log(0.6)), ("positive", math.log(0.02))]),
              ('"', -0.05, [('"', -0.05)]))
    assert confidence(data, "label", "positive", LABELS) == pytest.approx(0.2)


def test_chosen_label_not_among_the_alternatives_scores_zero() -> None:
    data = lp(("positive", math.log(0.01), [("negative", math.log(0.5)), ("The", math.log(0.4))]))
    assert confidence(data, "label", "positive", LABELS) == 0.0
    assert confidence(lp(("x", -1.0, [("The", -0.1)])), "label", "positive", LABELS) == 0.0


def test_without_alternatives_the_label_tokens_joint_probability() -> None:
    data = lp(("The", -0.5, []), (" pos", math.log(0.5), []), ("itive", math.log(0.8), []), (".", -0.1, []))
    assert confidence(data, "label", "positive", LABELS) == pytest.approx(0.4)


def test_ambiguous_prefix_is_split_between_labels() -> None:
    masses = label_masses([("n", math.log(0.4))], ["negative", "neutral", "positive"])
    assert masses == {"negative": pytest.approx(0.2), "neutral": pytest.approx(0.2), "positive": 0.0}


def test_mean_and_min() -> None:
    data = lp(("a", math.log(0.9), []), ("b", math.log(0.1), []))
    assert confidence(data, "mean") == pytest.approx(math.sqrt(0.09))
    assert confidence(data, "min") == pytest.approx(0.1)


def test_no_logprobs_means_unknown() -> None:
    assert confidence(None, "mean") is None and confidence({"content": []}, "label", "positive", LABELS) is None
    assert tokens_of({"content": [{"token": "x"}, "junk"]}) == []
