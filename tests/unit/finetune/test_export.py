"""Dataset export from a real SQLite request log (written through the Store API) and from a task file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smallfirst.core.errors import BadRequestError
from smallfirst.evaluate.tasks import load_tasks
from smallfirst.finetune.base import load_base
from smallfirst.finetune.dataset import CARD_JSON, CARD_MD, HELDOUT, TASKS, TRAIN, prompt_key, read_rows
from smallfirst.finetune.export import LogFilter, from_log, from_tasks, write_dataset
from smallfirst.store.sqlite import SQLiteStore
from tests.fakes.tiny_gguf import write_tiny_gguf
from tests.helpers.finetune import escalated, sentiment_prompts, write_task_file


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def _lines(p: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]


def _log(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(str(tmp_path / "log.db"), flush_interval_s=0.01)
    pairs = sentiment_prompts(30)
    rows = [escalated(i, p, a) for i, (p, a) in enumerate(pairs)]
    rows += [
        escalated(100, "email me at ann@example.com, was it good?", "label=yes", sensitive=("pii",)),
        escalated(101, None, None),  # escalated, but the text was not stored (no opt-in)
        escalated(102, "the cat was fine", "label=yes", tier="local", escalations=()),  # answered locally
        escalated(103, "the dog was fine", "label=yes", tier="mid", escalations=()),  # routed straight to mid
        escalated(104, "the mat was x", None, status=503),  # failed request
        escalated(105, "the bird was y", "   "),  # empty answer
        escalated(106, "  " + pairs[0][0].upper().replace(" ", "   ") + " ", pairs[0][1], ts=1_800_000_000.0),
        escalated(107, "summarise the news", "short summary", task_type="summarise"),
    ]
    for r in rows:
        store.record(r)
    store.flush()
    return store


def test_log_export_keeps_only_escalated_nonsensitive_stored_rows(tmp_path: Path, tiny: Path) -> None:
    store = _log(tmp_path)
    try:
        got = from_log(store.query(), LogFilter())
    finally:
        store.close()
    assert got.read == 38
    assert dict(got.excluded) == {"sensitive": 1, "text_not_stored": 1, "answered_locally": 1, "not_escalated": 1,
                                  "failed_request": 1, "empty_answer": 1}
    refs = {e.ref for e in got.examples}
    assert {"req-100", "req-101", "req-102", "req-103", "req-104", "req-105"}.isdisjoint(refs)
    ex = next(e for e in got.examples if e.ref == "req-0")
    assert ex.tier == "frontier" and ex.model == "gpt-fake" and ex.reason == "contract_failed"
    assert ex.cost_usd == pytest.approx(0.0002)
    assert [m["role"] for m in ex.messages] == ["user", "assistant"]


def test_routed_rows_and_task_type_opt_in(tmp_path: Path) -> None:
    store = _log(tmp_path)
    try:
        rows = store.query()
    finally:
        store.close()
    routed = from_log(rows, LogFilter(include_routed=True))
    assert "req-103" in {e.ref for e in routed.examples} and routed.excluded["not_escalated"] == 0
    only = from_log(rows, LogFilter(task_types=frozenset({"summarise"})))
    assert [e.ref for e in only.examples] == ["req-107"]
    assert only.excluded["task_type_not_selected"] == 35  # 38 rows − the kept one − failed − sensitive
    window = from_log(rows, LogFilter(since=1_700_000_010.0, until=1_700_000_019.5))
    assert sorted(e.ref for e in window.examples) == [f"req-{i}" for i in range(10, 20)]


def test_written_dataset_dedupes_splits_by_prompt_and_renders_the_template(tmp_path: Path, tiny: Path) -> None:
    store = _log(tmp_path)
    try:
        got = from_log(store.query(), LogFilter())
    finally:
        store.close()
    _info, tpl, source = load_base(tiny)
    res = write_dataset(got, tmp_path / "data", tpl, heldout=0.25, seed=3, template_source=source)
    out = tmp_path / "data"
    train, held = _lines(out / TRAIN), _lines(out / HELDOUT)
    keys = {str(r["id"]) for r in train}, {str(r["id"]) for r in held}
    assert keys[0].isdisjoint(keys[1])  # no prompt on both sides
    assert len(train) + len(held) == res.card["counts"]["examples"] == len(got.examples) - 1  # one duplicate
    # the case/whitespace variant of an earlier prompt was a duplicate; the newer answer was kept
    by_key = {prompt_key(r["messages"][:-1]): r for r in train + held}  # type: ignore[index]
    assert by_key[sentiment_prompts(1)[0][0]]["ref"] == "req-106"
    first = train[0]
    assert first["prompt"].startswith("<|im_start|>user\n")  # type: ignore[union-attr]
    assert first["prompt"].endswith("<|im_start|>assistant\n")  # type: ignore[union-attr]
    assert first["completion"] == first["messages"][-1]["content"] + "<|im_end|>\n"  # type: ignore[index]
    tasks = load_tasks(out / TASKS)  # the gate's input is a valid `smallfirst eval` task file
    assert {t.id for t in tasks} == keys[1]
    assert all(t.expected == next(h for h in held if h["id"] == t.id)["messages"][-1]["content"]  # type: ignore[index]
               for t in tasks)
    card = json.loads((out / CARD_JSON).read_text())
    assert card["counts"]["duplicates_dropped"] == 1 and card["counts"]["excluded"]["sensitive"] == 1
    assert card["by_tier"] == {"frontier": len(got.examples) - 1}
    assert card["chat_template"]["sha256"] and card["split"]["seed"] == 3
    md = (out / CARD_MD).read_text()
    assert "| sensitive | 1 |" in md and "Provenance" not in md  # source kind is set by the CLI
    assert len(read_rows(out / TRAIN)) == len(train)


def test_split_is_stable_as_the_log_grows(tmp_path: Path, tiny: Path) -> None:
    _info, tpl, _src = load_base(tiny)
    pairs = sentiment_prompts(60)
    small = write_task_file(tmp_path / "a.jsonl", pairs[:30])
    big = write_task_file(tmp_path / "b.jsonl", pairs)
    a = write_dataset(from_tasks(small), tmp_path / "a", tpl)
    b = write_dataset(from_tasks(big), tmp_path / "b", tpl)
    held_a = {r["id"] for r in _lines(a.out_dir / HELDOUT)}
    held_b = {r["id"] for r in _lines(b.out_dir / HELDOUT)}
    train_b = {r["id"] for r in _lines(b.out_dir / TRAIN)}
    assert held_a <= held_b and held_a.isdisjoint(train_b)  # a held-out prompt never moves into training
    assert 0 < len(held_b) < 60


def test_task_file_export_keeps_scorers_and_the_smollm2_template(tmp_path: Path) -> None:
    from smallfirst.backends.embedded import default_model_path

    _info, tpl, source = load_base(default_model_path())
    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps({"prompt": "2+2?", "expected": 4, "type": "math"}) + "\n"
                 + json.dumps({"prompt": "Extract", "expected": {"city": "Oslo"}, "id": "x1"}) + "\n"
                 + json.dumps({"prompt": "Rate", "scorer": "judge"}) + "\n", encoding="utf-8")
    got = from_tasks(f)
    assert got.excluded["no_answer_key"] == 1 and len(got.examples) == 2
    res = write_dataset(got, tmp_path / "d", tpl, heldout=0.5, template_source=source)
    rows = _lines(tmp_path / "d" / TRAIN) + _lines(tmp_path / "d" / HELDOUT)
    answers = sorted(r["messages"][-1]["content"] for r in rows)  # type: ignore[index]
    assert answers == ['4', '{"city": "Oslo"}']
    # SmolLM2's template adds its default system prompt when there is none
    assert all("You are a helpful AI assistant named SmolLM" in str(r["prompt"]) for r in rows)
    assert res.card["chat_template"]["from"] == "GGUF tokenizer.chat_template"
    tasks = {t.id: t for t in load_tasks(tmp_path / "d" / TASKS)}
    assert all(t.scorer in ("number", "json") for t in tasks.values())


def test_nothing_usable_is_a_clear_error(tmp_path: Path, tiny: Path) -> None:
    _info, tpl, _src = load_base(tiny)
    got = from_log([escalated(1, None, None), escalated(2, "x", "y", sensitive=("secret",))], LogFilter())
    with pytest.raises(BadRequestError, match=r"only 0 usable example\(s\) out of 2 .*text_not_stored 1"):
        write_dataset(got, tmp_path / "d", tpl)
