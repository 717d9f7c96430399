"""What a cached answer is keyed on, and what a request asks of the cache."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.cache.key import contract_key, exact_key, mode_of, pivots, query_text, sampled
from smallfirst.core.errors import BadRequestError
from smallfirst.core.types import ChatRequest


def req(text: str = "What is the capital of France?", *, system: str | None = None,
        headers: dict[str, str] | None = None, metadata: dict[str, Any] | None = None, **body: Any) -> ChatRequest:
    msgs: list[dict[str, Any]] = ([{"role": "system", "content": system}] if system else [])
    msgs.append({"role": "user", "content": text})
    full = {"model": "smallfirst/auto", "messages": msgs, **body}
    return ChatRequest(model="smallfirst/auto", messages=msgs, body=full, temperature=body.get("temperature"),
                       headers=headers or {}, metadata=metadata or {})


def test_exact_key_ignores_what_cannot_change_the_answer() -> None:
    a = req(temperature=0, max_tokens=5)
    b = ChatRequest(model=a.model, messages=a.messages, body={"max_tokens": 5, "stream": True, "user": "u1",
                    "metadata": {"x": 1}, "temperature": 0, "messages": a.messages, "model": a.model})
    assert exact_key(a) == exact_key(b)  # key order, stream, user, metadata


@pytest.mark.parametrize("change", [{"temperature": 0.0, "max_tokens": 6}, {"temperature": 0.0, "seed": 1},
                                    {"temperature": 0.0, "stop": ["\n"]},
                                    {"temperature": 0.0, "tools": [{"type": "function", "function": {"name": "f"}}]},
                                    {"temperature": 0.0, "response_format": {"type": "json_object"}},
                                    {"temperature": 0.0, "logprobs": True}, {"temperature": 0.0, "unknown_option": 1}])
def test_every_answer_changing_field_splits_the_key(change: dict[str, Any]) -> None:
    assert exact_key(req(temperature=0.0, max_tokens=5)) != exact_key(req(**{"max_tokens": 5, **change}))


def test_contract_key_keeps_everything_but_the_wording() -> None:
    base = req("What is the capital of France?")
    same = req("  what's the capital of france  ")
    assert contract_key(base, query_text(base) or "") == contract_key(same, query_text(same) or "")
    for other in (req("What is the capital of France?", system="Answer in French."),  # another system prompt
                  req("What is the capital of France?", max_tokens=3),  # another sampling parameter
                  req("What is the capital of Spain?"),  # another content word
                  req("France is the capital of what?")):  # same words, other order
        assert contract_key(base, query_text(base) or "") != contract_key(other, query_text(other) or "")
    bag = req("France capital of the what is?")
    assert contract_key(base, query_text(base) or "", "bag") == contract_key(bag, query_text(bag) or "", "bag")


def test_pivots_are_numbers_negations_and_choices_in_order() -> None:
    text = "Janet has 16 eggs and eats three. Which isn't true?\nA. 13 left\nB) none"
    assert pivots(text) == ["16", "three", "not", "13", "none", "13 left", "none"]
    assert pivots("Tom has 3 apples") != pivots("Tom has 4 apples")


def test_modes_from_headers_and_metadata() -> None:
    assert mode_of(req())[0] == "use"
    assert mode_of(req(headers={"cache-control": "no-cache"}))[0] == "refresh"
    assert mode_of(req(headers={"cache-control": "max-age=0, no-store"}))[0] == "off"
    assert mode_of(req(metadata={"smallfirst_cache": "off"}))[0] == "off"
    assert mode_of(req(metadata={"smallfirst_cache": "refresh"}))[0] == "refresh"
    assert mode_of(req(headers={"cache-control": "no-store"}, metadata={"smallfirst_cache": "on"}))[0] == "off"
    with pytest.raises(BadRequestError) as bad:
        mode_of(req(metadata={"smallfirst_cache": True}))
    assert bad.value.param == "metadata.smallfirst_cache"


def test_sampled_requests() -> None:
    assert not sampled(req()) and not sampled(req(temperature=0))
    assert sampled(req(temperature=0.7)) and sampled(req(n=2))


def test_query_text_needs_a_last_user_message() -> None:
    r = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
                    body={})
    assert query_text(r) is None and query_text(req("  hi ")) == "hi"
