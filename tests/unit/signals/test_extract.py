"""Signals: task types, lengths, language, densities, JSON/tools, reasoning, turns, task hints."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.core.types import ChatRequest
from smallfirst.signals import TASK_TYPES, extract, normalise_task


def req(text: str, *, system: str | None = None, metadata: dict[str, Any] | None = None,
        **kw: Any) -> ChatRequest:
    msgs: list[dict[str, Any]] = []
    if system:
        msgs.append({"role": "system", "content": system})
    msgs.append({"role": "user", "content": text})
    return ChatRequest(model="smallfirst/auto", messages=msgs, body=dict(kw), metadata=metadata or {},
                       **{k: v for k, v in kw.items() if k in ("response_format", "tools", "max_tokens")})


@pytest.mark.parametrize(("text", "task"), [
    ("Classify the sentiment of this review as positive or negative: I loved it.", "classify"),
    ("Which category does this ticket belong to? 'My invoice is wrong'", "classify"),
    ("Extract all the names and dates from this email: John met Mary on 3 May.", "extract"),
    ("Summarize the following article in three bullet points: The council met on Tuesday ...", "summarise"),
    ("TL;DR of this thread please", "summarise"),
    ("Translate into French: good morning, how are you?", "translate"),
    ("Rewrite this paragraph to be more formal: hey guys whats up", "rewrite"),
    ("Write a Python function that reverses a linked list.", "code"),
    ("Why does this fail?\n```\ndef f(x):\n    return x +\n```", "code"),
    ("Solve for x: 3x + 5 = 20", "math"),
    ("Janet has 3 apples and buys 5 more. How many apples does she have?", "math"),
    ("If all bloops are razzies and all razzies are lazzies, are all bloops lazzies? Explain the logic.",
     "reasoning"),
    ("Who was the first president of the United States?", "knowledge"),
    ("hi there!", "chat"),
])
def test_task_types(text: str, task: str) -> None:
    assert extract(req(text)).task_type == task


def test_every_detected_type_is_known() -> None:
    assert {"classify", "extract", "summarise", "translate", "rewrite", "code", "math", "reasoning",
            "knowledge", "chat"} == set(TASK_TYPES)


def test_metadata_task_hint_overrides_and_aliases() -> None:
    s = extract(req("Solve for x: 3x + 5 = 20", metadata={"task": "Classification"}))
    assert s.task_type == "classify"
    assert s.extra["detected_task"] == "math"
    assert s.extra["task_hint"] == "classify"
    assert normalise_task("summarize") == "summarise"
    custom = extract(req("hello", metadata={"task": "invoice-triage"}))
    assert custom.task_type == "invoice-triage"


def test_lengths_turns_and_expected_output() -> None:
    r = ChatRequest(model="m", body={}, messages=[
        {"role": "system", "content": "You label tickets."},
        {"role": "user", "content": "a" * 400},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "Classify this: refund please"}]},
    ], max_tokens=4)
    s = extract(r)
    assert s.turns == 2
    assert s.prompt_chars == len("You label tickets.") + 400 + 2 + len("Classify this: refund please")
    assert s.prompt_tokens_est == (s.prompt_chars + 3) // 4
    assert s.task_type == "classify"
    assert s.expected_output_tokens == 4  # capped by max_tokens


def test_language_detection() -> None:
    assert extract(req("Bonjour, je voudrais savoir quel temps il fait à Paris pour la semaine")).language == "fr"
    assert extract(req("Wie ist das Wetter in Berlin und was ist mit dem Zug nicht in Ordnung")).language == "de"
    assert extract(req("東京の天気はどうですか？明日は雨ですか")).language == "ja"
    assert extract(req("Write a Python function that reverses a linked list.")).language == "en"


def test_densities_json_tools_reasoning() -> None:
    code = extract(req("```python\nimport os\ndef f():\n    return 1\n```"))
    assert code.code_density >= 0.5
    assert extract(req("hello there")).code_density == 0.0
    assert extract(req("12 + 34 = 46")).math_density > 0.5
    j = extract(req("List the fields", response_format={"type": "json_object"}))
    assert j.wants_json
    assert extract(req("Return the answer as JSON with keys name and age")).wants_json
    assert not extract(req("Tell me about JSON history")).wants_json
    t = extract(req("What's the weather?", tools=[{"type": "function", "function": {"name": "w"}}]))
    assert t.wants_tools
    assert extract(req("Think step by step: how many legs do 3 spiders have?")).reasoning_requested
    assert extract(req("hi", reasoning_effort="high")).reasoning_requested
    assert not extract(req("hi")).reasoning_requested
    assert extract(req("hi")).sensitive_classes == ()


def test_long_prompt_is_bounded_and_consistent() -> None:
    text = "Summarise the report below.\n" + ("The quarterly numbers rose. " * 20000)
    s = extract(req(text))
    assert s.task_type == "summarise"
    assert s.prompt_chars == len(text)


@pytest.mark.parametrize(("text", "task"), [
    ("please give the key points, then summarize", "summarise"),  # a phrase before the verb wins
    ("summarize the key points", "summarise"),
    ("tl;dr: translate into german", "summarise"),  # leftmost phrase, not the first listed
    ("the named entities: translate them", "extract"),  # phrase inside a longer word still counts
    ("renamed entities, then rewrite", "extract"),
    ("fix the grammar and paraphrase", "rewrite"),
    ("x " * 295 + " summarizer of things", "summarise"),  # the head cuts "summarizer" to the verb
    ("x " * 295 + "summarizer of things", "chat"),
    ("x " * 300 + "summarize this", "chat"),  # the verb lies past the head
    ("x " * 295 + "summarize", "summarise"),
])
def test_instruction_verb_and_phrase_precedence(text: str, task: str) -> None:
    from smallfirst.signals.extract import _instruction_verb, detect_task

    assert extract(req(text)).task_type == task
    assert detect_task(text, 0.0, 0.0) == task
    assert _instruction_verb(text.lower()) == (None if task == "chat" else task)


def test_language_ties_go_to_the_first_listed_language() -> None:
    from smallfirst.signals.extract import detect_language

    assert detect_language("que") == "fr"  # listed by fr, es and pt: fr comes first
    assert detect_language("que los") == "es"
    assert detect_language("het een") == "nl"
    assert detect_language("zzz qqq") == "en"
    assert extract(req("le chat est sur la table")).language == "fr"
