"""The SFT dataset folder: examples, dedupe, the split by prompt, and the files ``export`` writes.

=========================  ==================================================================
file                       contents
=========================  ==================================================================
``train.jsonl``            one example per line: ``messages`` (chat format, ends with the
                           assistant answer), ``prompt`` / ``completion`` (rendered with the
                           target model's chat template), ``id``, ``type`` and provenance
``heldout.jsonl``          the same for the held-out prompts (never trained on)
``heldout.tasks.jsonl``    the held-out prompts as a ``smallfirst eval`` task file (the gate's input)
``card.json`` / ``card.md`` the data card: counts, exclusions by reason, split, template, provenance
=========================  ==================================================================

The split is a hash of the normalised prompt (and the seed), so a prompt stays on the same side as
the log grows and re-exports never leak a held-out prompt into training.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smallfirst.core.errors import BadRequestError

DATA_FORMAT = "smallfirst-finetune-data"
DATA_VERSION = 1
TRAIN, HELDOUT, TASKS, CARD_JSON, CARD_MD = ("train.jsonl", "heldout.jsonl", "heldout.tasks.jsonl", "card.json",
                                             "card.md")
_SPACE = re.compile(r"\s+")


def normalise_prompt(text: str) -> str:
    """The dedupe/split key: case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", text).strip().casefold()


def prompt_key(messages: Sequence[dict[str, Any]]) -> str:
    return normalise_prompt("\n".join(str(m.get("content") or "") for m in messages if m.get("role") != "assistant"))


@dataclass(frozen=True, slots=True)
class Example:
    """One chat example: the conversation up to the answer, the answer, and where it came from."""

    messages: tuple[dict[str, str], ...]  # ends with {"role": "assistant", "content": answer}
    type: str
    source: str  # "log" or "tasks"
    ref: str  # request id, or task id
    tier: str | None = None  # the tier whose answer this is
    model: str | None = None
    ts: float | None = None
    cost_usd: float | None = None
    reason: str | None = None  # why the cheaper tier did not answer (log rows)
    expected: Any = None  # the eval answer key (default: the answer text)
    scorer: str | None = None
    contract: dict[str, Any] | None = None

    @property
    def answer(self) -> str:
        return self.messages[-1]["content"]

    @property
    def key(self) -> str:
        return prompt_key(self.messages[:-1])

    @property
    def id(self) -> str:
        return hashlib.sha256(self.key.encode()).hexdigest()[:16]

    def to_json(self, prompt: str | None = None, completion: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "messages": list(self.messages)}
        if prompt is not None and completion is not None:
            out["prompt"], out["completion"] = prompt, completion
        out |= {"type": self.type, "source": self.source, "ref": self.ref}
        for k in ("tier", "model", "ts", "cost_usd", "reason"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        return out

    def to_task(self) -> dict[str, Any]:
        """The example as a ``smallfirst eval`` task (prompt messages + answer key)."""
        task: dict[str, Any] = {"id": self.id, "messages": list(self.messages[:-1]),
                                "expected": self.expected if self.expected is not None else self.answer,
                                "type": self.type, "dataset": f"finetune-heldout:{self.source}"}
        if self.scorer is not None:
            task["scorer"] = self.scorer
        if self.contract:
            task["contract"] = self.contract
        return task


def heldout_side(key: str, fraction: float, seed: int) -> float:
    """A stable number in [0, 1) for the prompt; below ``fraction`` → held out."""
    h = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def dedupe(examples: Iterable[Example]) -> tuple[list[Example], int]:
    """One example per normalised prompt: the most recent (by ``ts``, then input order). Returns (kept, dropped)."""
    best: dict[str, tuple[float, int, Example]] = {}
    n = 0
    for i, ex in enumerate(examples):
        n += 1
        rank = (ex.ts if ex.ts is not None else float("-inf"), i)
        cur = best.get(ex.key)
        if cur is None or rank > cur[:2]:
            best[ex.key] = (*rank, ex)
    kept = [e for _, _, e in sorted(best.values(), key=lambda t: (t[0], t[1]))]
    return kept, n - len(kept)


def split(examples: Sequence[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(train, held-out) by prompt hash; with 2+ prompts each side gets at least one."""
    if not 0.0 <= fraction < 1.0:
        raise BadRequestError(f"held-out fraction {fraction} is not in [0, 1)", hint="e.g. --heldout 0.2")
    scored = sorted(((heldout_side(e.key, fraction, seed), i) for i, e in enumerate(examples)))
    held = {i for s, i in scored if s < fraction}
    if fraction > 0 and len(examples) >= 2:
        if not held:
            held = {scored[0][1]}
        elif len(held) == len(examples):
            held.discard(scored[-1][1])
    train = [e for i, e in enumerate(examples) if i not in held]
    return train, [e for i, e in enumerate(examples) if i in held]


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


@dataclass(frozen=True, slots=True)
class TrainRow:
    """A rendered example as the trainer reads it."""

    id: str
    prompt: str
    completion: str


def read_rows(path: str | Path) -> list[TrainRow]:
    """``train.jsonl`` / ``heldout.jsonl`` rows (each must carry rendered ``prompt`` and ``completion``)."""
    p = Path(path)
    if not p.is_file():
        raise BadRequestError(f"dataset file {str(p)!r} not found", hint="run `smallfirst finetune export` first")
    rows: list[TrainRow] = []
    with p.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as err:
                raise BadRequestError(f"{p} line {n}: not valid JSON ({err.msg})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str) \
                    or not isinstance(obj.get("completion"), str) or not obj["completion"]:
                raise BadRequestError(f"{p} line {n}: needs string fields 'prompt' and 'completion'",
                                      hint="export the dataset with `smallfirst finetune export`")
            rows.append(TrainRow(str(obj.get("id", n)), obj["prompt"], obj["completion"]))
    if not rows:
        raise BadRequestError(f"dataset file {str(p)!r} has no examples",
                              hint="the export found nothing to train on; see its data card")
    return rows


def read_card(data_dir: str | Path) -> dict[str, Any]:
    p = Path(data_dir) / CARD_JSON
    if not p.is_file():
        raise BadRequestError(f"no data card at {str(p)!r}", hint="run `smallfirst finetune export` first")
    card: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    if card.get("format") != DATA_FORMAT:
        raise BadRequestError(f"{p} is not a smallfirst fine-tune data card")
    return card

