"""Each scorer against answers whose score is known."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from smallfirst.core.protocols import Scorer
from smallfirst.evaluate.scorers import PURE, build_scorers
from smallfirst.evaluate.scorers.exact import ExactScorer, LabelScorer, predicted_label
from smallfirst.evaluate.scorers.jsonfield import JsonScorer, parse_json_answer, schema_errors
from smallfirst.evaluate.scorers.judge import parse_rating, parse_verdict
from smallfirst.evaluate.scorers.number import NumberScorer, extract_number, parse_number
from smallfirst.evaluate.scorers.overlap import F1Scorer, RougeLScorer, lcs_length, rouge_l, token_f1
from smallfirst.evaluate.scorers.regex import RegexScorer


def task(expected: Any = None, **contract: Any) -> dict[str, Any]:
    return {"expected": expected, "contract": contract, "prompt": "p"}


def test_every_pure_scorer_implements_the_protocol() -> None:
    for name, cls in PURE.items():
        s = cls()
        assert isinstance(s, Scorer) and s.name == name


@pytest.mark.parametrize(("answer", "expected", "score"), [
    ("Paris", "paris", 1.0), ("  'Paris'. ", "Paris", 1.0), ("Paris, France", "Paris", 0.0),
    ("```\nParis\n```", "Paris", 1.0), ("B", ["A", "B"], 1.0), ("42", 42, 1.0),
])
def test_exact(answer: str, expected: Any, score: float) -> None:
    assert ExactScorer().score(task(expected), answer) == score


@pytest.mark.parametrize(("answer", "score"), [
    ("positive", 1.0), ("Positive.", 1.0), ("The sentiment is positive.", 1.0),
    ("negative", 0.0), ("positive or negative", 0.0), ("neutral", 0.0), ("", 0.0),
])
def test_label_set(answer: str, score: float) -> None:
    t = task("positive", labels=["positive", "negative", "very positive"])
    assert LabelScorer().score(t, answer) == score


def test_label_inside_a_longer_label_is_not_a_second_match() -> None:
    labels = ["positive", "very positive"]
    assert predicted_label("I'd say very positive", labels) == "very positive"
    assert LabelScorer().score(task("very positive", labels=labels), "It is very positive!") == 1.0


def test_label_without_a_label_set_uses_the_reference() -> None:
    assert LabelScorer().score(task("spam"), "This is spam") == 1.0
    assert LabelScorer().score(task("spam"), "ham") == 0.0


SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                           "tags": {"type": "array", "items": {"type": "string"}}},
          "required": ["name", "age"]}


@pytest.mark.parametrize(("answer", "score"), [
    ('{"name": "Bob", "age": 30, "tags": ["b", "a"]}', 1.0),         # list order ignored
    ('```json\n{"name": "bob", "age": 30.0, "tags": ["a","b"]}\n```', 1.0),
    ('Here it is: {"name": "Bob", "age": 31, "tags": ["a", "b"]} done', 2 / 3),
    ('{"name": "Bob", "age": "30", "tags": ["a", "b"]}', 0.0),      # schema: age must be an integer
    ('{"name": "Bob"}', 0.0),                                        # schema: age required
    ("no json here", 0.0),
])
def test_json_schema_and_fields(answer: str, score: float) -> None:
    t = task({"name": "Bob", "age": 30, "tags": ["a", "b"]}, schema=SCHEMA)
    assert JsonScorer().score(t, answer) == pytest.approx(score)


def test_json_selected_fields_nested_and_schema_only() -> None:
    t = task({"a": {"b": 1}, "c": 2}, fields=["a.b"])
    assert JsonScorer().score(t, '{"a": {"b": 1}, "c": 99}') == 1.0
    assert JsonScorer().score(task(None, schema={"type": "array"}), "[1, 2]") == 1.0
    assert JsonScorer().score(task(None, schema={"type": "array"}), '{"x": 1}') == 0.0
    score, detail = JsonScorer().explain(task({"x": 1, "y": 2}), '{"x": 1, "y": 3}')
    assert score == 0.5 and detail == "fields differ: y"


def test_schema_errors_name_the_path() -> None:
    assert schema_errors(SCHEMA, {"name": "a", "age": 1}) == []
    assert schema_errors(SCHEMA, {"name": "a", "age": "1"}) == ["age: '1' is not of type 'integer'"]
    with pytest.raises(ValueError):
        parse_json_answer("nothing")


@pytest.mark.parametrize(("answer", "value"), [
    ("Natalia sold 48/2 = 24 clips in May.\n#### 72", 72.0), ("The answer is 1,234.", 1234.0),
    ("so x = \\boxed{-3.5}", -3.5), ("I think 5 then 7", 7.0), ("It costs $18.", 18.0), ("no number", None),
    ("Final answer: 3/4", 0.75),
])
def test_number_extraction(answer: str, value: float | None) -> None:
    assert extract_number(answer) == value


def test_number_scorer() -> None:
    assert NumberScorer().score(task(72), "#### 72") == 1.0
    assert NumberScorer().score(task("1,000"), "1000.0") == 1.0
    assert NumberScorer().score(task(0.1), "0.1000001") == 1.0
    assert NumberScorer().score(task(72), "#### 73") == 0.0
    assert NumberScorer().score(task(72), "no idea") == 0.0
    assert parse_number("12%") == 12.0 and parse_number("12 apples") is None


def test_regex() -> None:
    assert RegexScorer().score(task(r"^\d{3}-\d{4}$"), " 555-1234 ") == 1.0
    assert RegexScorer().score(task(r"^\d{3}-\d{4}$"), "call 555-1234") == 0.0
    assert RegexScorer().score(task(None, regex=r"(?i)yes"), "YES!") == 1.0


def test_token_f1_known_values() -> None:
    assert token_f1("the cat sat", "a cat sat down") == pytest.approx(2 * (2 / 2) * (2 / 3) / (1 + 2 / 3))
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0
    assert F1Scorer().score(task(["Barack Obama", "Obama"]), "Obama") == 1.0


def test_rouge_l_known_values() -> None:
    assert lcs_length(["a", "b", "c", "d", "e"], ["a", "c", "e", "x"]) == 3
    # pred 5 tokens, ref 4 tokens, LCS 3: P = 3/5, R = 3/4
    assert rouge_l("police killed gunman very quickly", "police kill gunman quickly") == pytest.approx(
        2 * 0.6 * 0.75 / (0.6 + 0.75))
    assert RougeLScorer().score(task("cat sat on mat"), "the cat sat on the mat") == 1.0


def test_judge_reply_parsing() -> None:
    assert parse_rating("Rating: 7/10") == 7 and parse_rating("10") == 10 and parse_rating("none") is None
    assert parse_verdict("A") == "A" and parse_verdict("Answer B is better") == "B"
    assert parse_verdict("It's a tie") == "TIE" and parse_verdict("neither") is None


def test_build_scorers_requires_a_judge() -> None:
    from smallfirst.core.errors import BadRequestError

    assert set(build_scorers({"exact", "f1"})) == {"exact", "f1"}
    with pytest.raises(BadRequestError, match="needs an LLM judge"):
        build_scorers({"judge"})


def test_async_form_matches_the_sync_form() -> None:
    t = task({"x": 1, "y": 2})
    scored = asyncio.run(JsonScorer().ascore(t, '{"x": 1, "y": 0}'))
    assert scored.score == 0.5 and scored.cost_usd == 0.0 and scored.detail == "fields differ: y"


def test_confidence_is_the_cascades(tmp_path: Path) -> None:
    import math

    from smallfirst.evaluate.confidence import answer_confidence, cascade_contract
    from smallfirst.evaluate.tasks import load_tasks

    p = tmp_path / "t.jsonl"
    p.write_text('{"prompt": "a", "expected": "yes", "contract": {"labels": ["yes", "no"]}}\n'
                 '{"prompt": "b", "expected": "free text"}\n')
    labelled, free = load_tasks(p)
    contract = cascade_contract(labelled)
    assert contract is not None and contract.confidence_method == "label" and cascade_contract(free) is None
    lp = {"content": [{"token": "yes", "logprob": math.log(0.6),
                       "top_logprobs": [{"token": "yes", "logprob": math.log(0.6)},
                                        {"token": "no", "logprob": math.log(0.2)}]}]}
    assert answer_confidence(contract, lp, "yes") == pytest.approx(0.75)  # 0.6 / (0.6 + 0.2)
    mean = {"content": [{"token": "a", "logprob": -0.1}, {"token": "b", "logprob": -0.3}]}
    assert answer_confidence(None, mean, "ab") == pytest.approx(math.exp(-0.2))
    assert answer_confidence(None, None, "x") is None
