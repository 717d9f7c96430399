"""Build the SFT dataset: from the request log, or from a labelled task file.

From the log, a row becomes an example only when all of these hold (each miss is counted by reason
in the data card):

* it succeeded (status 200) and was **escalated**: a cheaper tier tried first and a higher tier gave
  the accepted answer (``--include-routed`` also takes rows the router sent straight to a non-local tier);
* it is **not sensitive** (no PII / PHI / secret class detected) — the gateway never stores such
  text anyway, and the export refuses it even if a log holds some;
* its text was **stored**: the gateway keeps prompt and answer text only when the user opted in
  (``log.store_prompts``); ``--task-type`` narrows the export to the task types opted in for tuning;
* the answer is not empty.

The prompt is the request text as logged (all message text, joined); the answer is the higher
tier's. From a task file (the ``smallfirst eval`` format) every task with a textual answer key is
used, and held-out tasks keep their own scorer and contract.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smallfirst.core.errors import BadRequestError
from smallfirst.core.types import RequestRecord
from smallfirst.finetune.dataset import (
    CARD_JSON,
    CARD_MD,
    DATA_FORMAT,
    DATA_VERSION,
    HELDOUT,
    TASKS,
    TRAIN,
    Example,
    dedupe,
    split,
    write_jsonl,
)
from smallfirst.finetune.template import ChatTemplate


@dataclass(frozen=True, slots=True)
class LogFilter:
    local_tiers: frozenset[str] = frozenset({"local"})
    task_types: frozenset[str] = frozenset()  # empty: every type
    include_routed: bool = False
    since: float | None = None
    until: float | None = None


@dataclass
class Collected:
    examples: list[Example]
    read: int
    excluded: Counter[str] = field(default_factory=Counter)
    source: dict[str, Any] = field(default_factory=dict)


def _lower_outcome(r: RequestRecord) -> str | None:
    """Why the cheaper tier did not answer: the first non-ok attempt's outcome."""
    return next((a.outcome for a in r.attempts if a.tier != r.tier and a.outcome != "ok"), None)


def _answer_cost(r: RequestRecord) -> float:
    return sum(a.cost_usd for a in r.attempts if a.tier == r.tier)


def classify_row(r: RequestRecord, f: LogFilter) -> str | None:
    """``None`` when the row is usable, else the exclusion reason."""
    if r.status != 200 or r.tier is None:
        return "failed_request"
    if r.sensitive:
        return "sensitive"
    if f.task_types and (r.task_type or "") not in f.task_types:
        return "task_type_not_selected"
    escalated = bool(r.escalations) and r.escalations[0].split("->", 1)[0] != r.tier
    routed_up = f.include_routed and not r.escalations and r.tier not in f.local_tiers
    if not (escalated or routed_up):
        return "answered_locally" if r.tier in f.local_tiers else "not_escalated"
    if r.prompt_text is None or r.response_text is None:
        return "text_not_stored"
    if not r.prompt_text.strip():
        return "empty_prompt"
    if not r.response_text.strip():
        return "empty_answer"
    return None


def from_log(records: Iterable[RequestRecord], f: LogFilter) -> Collected:
    out = Collected([], 0)
    for r in records:
        out.read += 1
        if (f.since is not None and r.ts < f.since) or (f.until is not None and r.ts > f.until):
            out.excluded["outside_time_range"] += 1
            continue
        reason = classify_row(r, f)
        if reason is not None:
            out.excluded[reason] += 1
            continue
        assert r.prompt_text is not None and r.response_text is not None
        msgs = ({"role": "user", "content": r.prompt_text}, {"role": "assistant", "content": r.response_text})
        out.examples.append(Example(messages=msgs, type=r.task_type or "chat", source="log", ref=r.request_id,
                                    tier=r.tier, model=r.model, ts=r.ts, cost_usd=_answer_cost(r),
                                    reason=_lower_outcome(r) or ("routed" if not r.escalations else None)))
    return out


def _answer_text(expected: Any) -> str | None:
    if isinstance(expected, str):
        return expected
    if isinstance(expected, bool) or expected is None:
        return None
    if isinstance(expected, int | float):
        return str(expected)
    if isinstance(expected, list):
        return _answer_text(expected[0]) if expected and not isinstance(expected[0], dict | list) else \
            json.dumps(expected, ensure_ascii=False, separators=(", ", ": "))
    return json.dumps(expected, ensure_ascii=False, separators=(", ", ": "))


def from_tasks(path: str | Path) -> Collected:
    """Every task of a ``smallfirst eval`` task file whose answer key can be written as the answer."""
    from smallfirst.evaluate.tasks import load_tasks

    tasks = load_tasks(path)
    out = Collected([], len(tasks), source={"kind": "tasks", "path": str(path)})
    for t in tasks:
        answer = _answer_text(t.expected)
        if answer is None or not answer.strip():
            out.excluded["no_answer_key"] += 1
            continue
        if t.messages and t.messages[-1].get("role") == "assistant":
            out.excluded["ends_with_assistant"] += 1
            continue
        msgs = tuple({"role": str(m["role"]), "content": str(m.get("content") or "")} for m in t.messages)
        out.examples.append(Example(messages=(*msgs, {"role": "assistant", "content": answer}), type=t.type,
                                    source="tasks", ref=t.id, expected=t.expected, scorer=t.scorer,
                                    contract=t.contract.to_json() or None))
    return out


@dataclass(frozen=True, slots=True)
class ExportResult:
    out_dir: Path
    train: int
    heldout: int
    card: dict[str, Any]


def write_dataset(c: Collected, out_dir: str | Path, template: ChatTemplate, *, heldout: float = 0.2,
                  seed: int = 0, template_source: dict[str, Any] | None = None,
                  min_examples: int = 1) -> ExportResult:
    """Dedupe, split, render and write the dataset folder and its data card."""
    kept, dupes = dedupe(c.examples)
    if len(kept) < min_examples:
        reasons = ", ".join(f"{k} {v}" for k, v in c.excluded.most_common()) or "none"
        raise BadRequestError(f"only {len(kept)} usable example(s) out of {c.read} (excluded: {reasons})",
                              hint="escalated requests are kept only when log.store_prompts is on and the "
                                   "request is not sensitive; or export from a task file with --tasks")
    train, held = split(kept, heldout, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def rows(exs: Sequence[Example]) -> Iterable[dict[str, Any]]:
        for e in exs:
            r = template.split(e.messages)
            yield e.to_json(r.prompt, r.completion)

    write_jsonl(out / TRAIN, rows(train))
    write_jsonl(out / HELDOUT, rows(held))
    write_jsonl(out / TASKS, (e.to_task() for e in held))
    card = make_card(c, kept, train, held, dupes, heldout=heldout, seed=seed, template=template,
                     template_source=template_source or {})
    (out / CARD_JSON).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / CARD_MD).write_text(card_markdown(card), encoding="utf-8")
    return ExportResult(out, len(train), len(held), card)


def make_card(c: Collected, kept: Sequence[Example], train: Sequence[Example], held: Sequence[Example],
              dupes: int, *, heldout: float, seed: int, template: ChatTemplate,
              template_source: dict[str, Any]) -> dict[str, Any]:
    ts = [e.ts for e in kept if e.ts is not None]
    return {
        "format": DATA_FORMAT, "version": DATA_VERSION, "created": time.time(), "source": c.source,
        "counts": {"read": c.read, "usable": len(kept) + dupes, "duplicates_dropped": dupes, "examples": len(kept),
                   "train": len(train), "heldout": len(held), "excluded": dict(c.excluded.most_common())},
        "by_type": dict(Counter(e.type for e in kept).most_common()),
        "by_tier": dict(Counter(e.tier or "(task file)" for e in kept).most_common()),
        "by_model": dict(Counter(e.model or "(task file)" for e in kept).most_common()),
        "escalation_reasons": dict(Counter(e.reason for e in kept if e.reason).most_common()),
        "answer_cost_usd": round(sum(e.cost_usd or 0.0 for e in kept), 6),
        "time_range": [min(ts), max(ts)] if ts else None,
        "split": {"method": "sha256(seed, normalised prompt) < heldout fraction; stable across re-exports",
                  "heldout_fraction": heldout, "seed": seed, "dedupe": "one example per normalised prompt "
                  "(case-folded, whitespace collapsed); the most recent answer wins"},
        "chat_template": {**template_source, "default_chatml": template.default, "bos_token": template.bos_token,
                          "eos_token": template.eos_token},
        "files": {"train": TRAIN, "heldout": HELDOUT, "heldout_tasks": TASKS},
    }


def card_markdown(card: dict[str, Any]) -> str:
    c = card["counts"]
    src = card["source"]
    lines = ["# Fine-tuning data card", "",
             f"Source: **{src.get('kind', '?')}** `{src.get('path') or src.get('url') or ''}`  ",
             f"Created: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(card['created']))}", "",
             "| rows read | usable | duplicates dropped | examples | train | held out |",
             "|---:|---:|---:|---:|---:|---:|",
             f"| {c['read']} | {c['usable']} | {c['duplicates_dropped']} | {c['examples']} | {c['train']} | "
             f"{c['heldout']} |", "", "## Excluded rows", "", "| reason | rows |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in c["excluded"].items()] or ["| (none) | 0 |"]
    for title, key in (("Task types", "by_type"), ("Answering tiers", "by_tier"), ("Answering models", "by_model"),
                       ("Why the cheaper tier did not answer", "escalation_reasons")):
        if card[key]:
            lines += ["", f"## {title}", "", "| value | examples |", "|---|---:|"]
            lines += [f"| {k} | {v} |" for k, v in card[key].items()]
    s, t = card["split"], card["chat_template"]
    lines += ["", "## Split", "", f"{s['method']}; held-out fraction {s['heldout_fraction']}, seed {s['seed']}.",
              f"Dedupe: {s['dedupe']}.", "", "## Chat template", "",
              f"Rendered with the template of `{t.get('model', '(none)')}`"
              + (" (no template in the model: ChatML used)" if t["default_chatml"] else "")
              + (f", sha256 `{t['sha256'][:16]}…`" if t.get("sha256") else "") + ".", ""]
    if card["source"].get("kind") == "log":
        lines += ["## Provenance", "", "Only escalated, non-sensitive requests whose text the gateway stored (opt-in "
                  "`log.store_prompts`) are used; the answer is the higher tier's accepted answer.", ""]
    return "\n".join(lines)
