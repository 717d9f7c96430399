"""Task contracts: config and request validation, format checks, resolution per request."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.cascade.contract import Contract, Markers
from smallfirst.cascade.contracts import Contracts
from smallfirst.config.cascade import REFUSAL_MARKERS, UNCERTAINTY_MARKERS, CascadeConfig, ContractSpec
from smallfirst.config.loader import parse
from smallfirst.core.errors import BadRequestError, ConfigError
from smallfirst.core.types import ChatRequest

MARKERS = Markers.compile(REFUSAL_MARKERS, UNCERTAINTY_MARKERS)
PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
          "required": ["name"]}


def contract(**kw: Any) -> Contract:
    return Contract.compile(ContractSpec(**kw))


def request(metadata: dict[str, Any] | None = None, response_format: dict[str, Any] | None = None) -> ChatRequest:
    msgs = [{"role": "user", "content": "hi"}]
    body: dict[str, Any] = {"model": "smallfirst/auto", "messages": msgs}
    if response_format is not None:
        body["response_format"] = response_format
    return ChatRequest(model="smallfirst/auto", messages=msgs, body=body, metadata=metadata or {},
                       response_format=response_format)


# ---- config ------------------------------------------------------------------------------------


def test_invalid_schema_in_config_names_the_path_and_the_problem() -> None:
    bad = {"type": "object", "properties": {"age": {"type": "integr"}}}
    with pytest.raises(ConfigError) as e:
        parse({"cascade": {"tasks": [{"name": "person", "json_schema": bad}]}})
    msg = e.value.message
    assert "cascade.tasks[0].json_schema" in msg and "properties/age/type" in msg and "'integr'" in msg


def test_schema_may_be_given_as_json_text_and_bad_text_is_named() -> None:
    s = parse({"cascade": {"tasks": [{"name": "p", "json_schema": '{"type": "object"}'}]}})
    assert s.cascade.tasks[0].json_schema == {"type": "object"}
    with pytest.raises(ConfigError, match=r"json_schema.*not valid JSON"):
        parse({"cascade": {"tasks": [{"name": "p", "json_schema": "{type: object}"}]}})


@pytest.mark.parametrize(("task", "words"), [
    ({"name": "a", "regex": "([a-z"}, "not a valid regular expression"),
    ({"name": "a", "labels": []}, "non-empty list"),
    ({"name": "a", "labels": ["x", "x"]}, "label twice"),
    ({"name": "a", "labels": ["x"], "json_schema": {"type": "object"}}, "either labels or a JSON answer"),
    ({"name": "a", "confidence": "label"}, "needs labels"),
    ({"name": "a", "min_confidence": 1.5}, "less than or equal to 1"),
    ({"name": "a", "lables": ["x"]}, "unknown key"),
])
def test_bad_task_contracts_are_config_errors(task: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse({"cascade": {"tasks": [task]}})


def test_duplicate_task_names_and_bad_markers() -> None:
    with pytest.raises(ConfigError, match="used twice"):
        parse({"cascade": {"tasks": [{"name": "a"}, {"name": "a"}]}})
    with pytest.raises(ConfigError, match="marker"):
        parse({"cascade": {"refusal_markers": ["(unclosed"]}})


# ---- format checks -----------------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "expected"), [
    ("positive", None), (" Positive. ", None), ('"negative"', None), ("`positive`", None),
    ("maybe", "label_not_allowed"), ("positive or negative", "label_not_allowed"), ("", "empty_answer"),
    ("I'm sorry, I can't classify that.", "refusal"), ("I'm not sure, it could be either.", "uncertain"),
])
def test_label_contract(answer: str, expected: str | None) -> None:
    assert contract(labels=["positive", "negative"]).check_format(answer, "stop", MARKERS) == expected


def test_label_case_sensitivity_and_declared_spelling() -> None:
    c = contract(labels=["Positive", "Negative"], case_sensitive=True)
    assert c.label_of("Positive") == "Positive" and c.label_of("positive") is None
    assert contract(labels=["Positive"]).label_of(' "positive" ') == "Positive"


@pytest.mark.parametrize(("answer", "finish", "expected"), [
    ('{"name": "Ada", "age": 36}', "stop", None),
    ('```json\n{"name": "Ada"}\n```', "stop", None),
    ('{"name": "Ada", "age": -1}', "stop", "schema_invalid"),
    ('{"age": 3}', "stop", "schema_invalid"),
    ("Ada is 36", "stop", "invalid_json"),
    ('{"name": "Ada", "age', "length", "truncated"),
])
def test_schema_contract(answer: str, finish: str, expected: str | None) -> None:
    assert contract(json_schema=PERSON).check_format(answer, finish, MARKERS) == expected


def test_schema_errors_are_readable() -> None:
    errs = contract(json_schema=PERSON).schema_errors('{"name": 1, "age": -1}')
    assert any(e.startswith("age:") and "minimum" in e for e in errs) and any(e.startswith("name:") for e in errs)


def test_required_fields_regex_and_length() -> None:
    c = contract(required=["name", "address.city"])
    assert c.check_format('{"name": "A", "address": {"city": "Oslo"}}', "stop", MARKERS) is None
    assert c.check_format('{"name": "A", "address": {}}', "stop", MARKERS) == "missing_field"
    r = contract(regex=r"\d{4}-\d{2}-\d{2}")
    assert r.check_format(" 2024-01-31\n", "stop", MARKERS) is None
    assert r.check_format("31 Jan 2024", "stop", MARKERS) == "regex_mismatch"
    assert contract(max_chars=5).check_format("too long by far", "stop", MARKERS) == "too_long"


def test_free_text_contract_rejects_refusals_unless_disabled() -> None:
    assert contract(max_chars=200).check_format("As an AI language model, I cannot do that.", "stop",
                                                MARKERS) == "refusal"
    assert contract(max_chars=200, refusal=False).check_format("I'm sorry to hear that.", "stop", MARKERS) is None


def test_valid_label_is_not_a_refusal_even_with_markers_configured() -> None:
    assert contract(labels=["sorry", "fine"]).check_format("sorry", "stop", MARKERS) is None


def test_canonical_forms_for_agreement() -> None:
    assert contract(labels=["yes", "no"]).canonical('"Yes"') == contract(labels=["yes", "no"]).canonical("yes.")
    j = contract(json_schema={"type": "object"})
    assert j.canonical('{"b": 1, "a": 2}') == j.canonical('{"a":2,"b":1}')


# ---- per request -------------------------------------------------------------------------------


CFG = CascadeConfig.model_validate({"tasks": [{"name": "sentiment", "labels": ["positive", "negative"],
                                               "min_confidence": 0.6}]})


def test_no_contract_means_no_check() -> None:
    assert Contracts(CFG).for_request(request()) is None
    assert Contracts(CFG).for_request(request({"user": "x"})) is None


def test_task_by_name_and_inline_override_as_json_string() -> None:
    cs = Contracts(CFG)
    c = cs.for_request(request({"smallfirst_task": "sentiment"}))
    assert c is not None and c.name == "sentiment" and c.labels == ("positive", "negative")
    c2 = cs.for_request(request({"smallfirst_task": "sentiment", "smallfirst_contract": '{"min_confidence": 0.9}'}))
    assert c2 is not None and c2.spec.min_confidence == 0.9 and c2.labels == ("positive", "negative")
    assert cs.for_request(request({"smallfirst_task": "sentiment"})) is c  # cached


def test_inline_contract_object() -> None:
    c = Contracts(CFG).for_request(request({"smallfirst_contract": {"json_schema": PERSON, "escalate": False}}))
    assert c is not None and c.wants_json and not c.spec.escalate


@pytest.mark.parametrize(("meta", "param", "words"), [
    ({"smallfirst_task": "nope"}, "metadata.smallfirst_task", "unknown task 'nope'"),
    ({"smallfirst_contract": "{not json"}, "metadata.smallfirst_contract", "not valid JSON"),
    ({"smallfirst_contract": "[1, 2]"}, "metadata.smallfirst_contract", "must be a JSON object"),
    ({"smallfirst_contract": {"lables": ["a"]}}, "metadata.smallfirst_contract", "unknown key(s) lables"),
    ({"smallfirst_contract": {"json_schema": {"type": "object", "required": "name"}}},
     "metadata.smallfirst_contract", "metadata.smallfirst_contract.json_schema: is not a valid JSON schema: "
                                     "at required: 'name' is not of type 'array'"),
    ({"smallfirst_contract": {"min_confidence": "high"}}, "metadata.smallfirst_contract", "min_confidence"),
])
def test_bad_request_contracts_are_400_naming_the_field(meta: dict[str, Any], param: str, words: str) -> None:
    with pytest.raises(BadRequestError) as e:
        Contracts(CFG).for_request(request(meta))
    assert e.value.status == 400 and e.value.param == param and words in e.value.message


def test_response_format_schema_becomes_a_contract_unless_turned_off() -> None:
    rf = {"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON}}
    c = Contracts(CFG).for_request(request(response_format=rf))
    assert c is not None and c.spec.json_schema == PERSON and not c.spec.constrain
    off = CascadeConfig(schema_from_response_format=False)
    assert Contracts(off).for_request(request(response_format=rf)) is None
    assert Contracts(CFG).for_request(request(response_format={"type": "json_object"})) is None


def test_invalid_response_format_schema_is_400() -> None:
    rf = {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "objekt"}}}
    with pytest.raises(BadRequestError) as e:
        Contracts(CFG).for_request(request(response_format=rf))
    assert e.value.param == "response_format" and "type" in e.value.message


def test_cache_is_bounded() -> None:
    cs = Contracts(CFG, cache_size=2)
    for k in range(5):
        cs.for_request(request({"smallfirst_contract": {"max_chars": k + 1}}))
    assert len(cs._cache) == 2
