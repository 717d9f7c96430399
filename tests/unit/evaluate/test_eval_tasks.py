"""The task file: defaults, and malformed files reported with line numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smallfirst.core.errors import BadRequestError
from smallfirst.evaluate.tasks import Task, load_tasks


def write(tmp_path: Path, lines: list[Any]) -> Path:
    p = tmp_path / "tasks.jsonl"
    p.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return p


def test_defaults_and_scorer_choice(tmp_path: Path) -> None:
    tasks = load_tasks(write(tmp_path, [
        {"prompt": "Classify: great film", "expected": "positive", "contract": {"labels": ["positive", "negative"]}},
        {"prompt": "Extract the name: Bob, 30", "expected": {"name": "Bob"}},
        {"prompt": "What is 6 times 7?", "expected": 42},
        {"prompt": "Summarise: a long text here", "type": "summarization", "expected": "short"},
        {"prompt": "Tell me a joke"},
        {"id": 7, "system": "Be brief.", "prompt": "Capital of France?", "expected": "Paris",
         "request": {"max_tokens": 5}},
        "",
        {"messages": [{"role": "user", "content": "Phone?"}], "expected": r"\d+", "scorer": "regex"},
    ]))
    assert [t.scorer for t in tasks] == ["label", "json", "number", "rouge_l", "judge", "f1", "regex"]
    assert tasks[3].type == "summarise"  # alias normalised like the gateway's task hint
    assert tasks[0].type == "classify" and tasks[5].type == "knowledge"  # detected by the gateway's signals
    t = tasks[5]
    assert t.id == "7" and t.line == 6 and t.messages[0] == {"role": "system", "content": "Be brief."}
    assert t.request == {"max_tokens": 5} and t.prompt_text == "Capital of France?"
    assert tasks[6].line == 8
    assert len({x.id for x in tasks}) == len(tasks)  # content-hash ids are distinct


def test_snapshot_round_trip(tmp_path: Path) -> None:
    [t] = load_tasks(write(tmp_path, [{"prompt": "x?", "expected": {"a": 1}, "contract": {
        "schema": {"type": "object"}, "fields": ["a"]}, "dataset": "d"}]))
    again = Task.from_json(json.loads(json.dumps(t.to_json())))
    assert again == t


def test_hash_follows_content_not_position(tmp_path: Path) -> None:
    a = load_tasks(write(tmp_path, [{"prompt": "one", "expected": "1"}, {"prompt": "two", "expected": "2"}]))
    b = load_tasks(write(tmp_path, [{"prompt": "two", "expected": "2"}, {"prompt": "one", "expected": "1"}]))
    assert {t.id: t.hash for t in a} == {t.id: t.hash for t in b}
    c = load_tasks(write(tmp_path, [{"prompt": "one", "expected": "uno"}]))
    assert c[0].hash != a[0].hash


@pytest.mark.parametrize(("line", "problem"), [
    ('{"prompt": "x", "expected": 1', "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ({"prompt": "x", "expectd": "y"}, "unknown field(s) 'expectd'"),
    ({"expected": "y"}, "exactly one of 'prompt'"),
    ({"prompt": "x", "messages": [], "expected": "y"}, "exactly one of 'prompt'"),
    ({"messages": [{"role": "robot", "content": "x"}], "expected": "y"}, "messages[0].role"),
    ({"prompt": "x", "expected": "y", "scorer": "bleu"}, "unknown scorer 'bleu'"),
    ({"prompt": "x", "expected": "maybe", "contract": {"labels": ["yes", "no"]}}, "not in contract.labels"),
    ({"prompt": "x", "expected": {}, "contract": {"schema": {"type": "objekt"}}}, "not a valid JSON schema"),
    ({"prompt": "x", "expected": "(", "scorer": "regex"}, "not a valid regular expression"),
    ({"prompt": "x", "expected": "forty", "scorer": "number"}, "numeric 'expected'"),
    ({"prompt": "x", "expected": "y", "request": {"temperature": 9}}, "'temperature' must be a number"),
    ({"prompt": "x", "expected": "y", "request": {"model": "gpt"}}, "set by the runner"),
    ({"prompt": "x", "expected": {"a": 1}, "contract": {"fields": ["b"]}}, "not in 'expected'"),
    ({"prompt": "x", "scorer": "judge_pairwise"}, "needs 'expected'"),
])
def test_malformed_line_is_reported_with_its_number(tmp_path: Path, line: Any, problem: str) -> None:
    p = write(tmp_path, [{"prompt": "fine", "expected": "ok"}, "", line])
    with pytest.raises(BadRequestError) as err:
        load_tasks(p)
    msg = err.value.one_line()
    assert "line 3:" in msg and problem in msg and str(p) in msg


def test_every_bad_line_is_counted_and_duplicates_named(tmp_path: Path) -> None:
    lines: list[Any] = [{"id": "a", "prompt": "x", "expected": "1"}, {"id": "a", "prompt": "y", "expected": "2"}]
    lines += ["{oops"] * 7
    with pytest.raises(BadRequestError) as err:
        load_tasks(write(tmp_path, lines))
    msg = err.value.message
    assert "8 invalid lines" in msg and "line 2: duplicate task id 'a' (first on line 1)" in msg
    assert "… and 3 more" in msg


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(BadRequestError, match="not found"):
        load_tasks(tmp_path / "nope.jsonl")
    with pytest.raises(BadRequestError, match="has no tasks"):
        load_tasks(write(tmp_path, ["", "  "]))
