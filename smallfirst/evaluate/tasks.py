"""The task file: JSONL, one labelled task per line, validated with line numbers.

====================  ==========================================================================
field                 meaning
====================  ==========================================================================
``prompt``            the user message (or ``messages``: an OpenAI messages array; exactly one)
``system``            optional system message placed before ``prompt``
``expected``          the answer key: a label, a JSON object, a number, a reference text, a regex,
                      or a list of acceptable answers/references (absent only for judge scoring)
``type``              task type (``classify``, ``extract``, ``summarise``, ``math`` …; aliases as
                      in the gateway's signals); default: what the gateway's signals detect
``scorer``            ``exact``, ``label``, ``json``, ``number``, ``regex``, ``f1``, ``rouge_l``,
                      ``judge`` (rubric 1–10), ``judge_pairwise`` or a plugin's scorer
                      (docs/plugins.md); default: chosen from the contract, ``expected`` and
                      ``type`` (see :func:`default_scorer`)
``contract``          optional: ``labels`` (allowed labels), ``schema`` (JSON schema the answer must
                      satisfy), ``fields`` (the fields of ``expected`` to compare), ``regex``
``id``                optional stable id (default: a hash of the task's content)
``request``           optional extra request fields (``max_tokens``, ``temperature``,
                      ``response_format`` …), validated like a gateway request
``dataset``           optional provenance label
====================  ==========================================================================

Errors name the file and every bad line (the first few in full) and raise
:class:`~smallfirst.core.errors.BadRequestError`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smallfirst.core.errors import BadRequestError, SmallfirstError
from smallfirst.core.text import user_text

SCORER_NAMES = ("exact", "label", "json", "number", "regex", "f1", "rouge_l", "judge", "judge_pairwise")
JUDGE_SCORERS = frozenset({"judge", "judge_pairwise"})
_KEYS = frozenset({"id", "prompt", "system", "messages", "expected", "type", "scorer", "contract", "request",
                   "dataset"})
_CONTRACT_KEYS = frozenset({"labels", "schema", "fields", "regex"})
_SHOWN = 5
MAX_TOKENS = 1_000_000  # no model writes more in one answer: a larger max_tokens is a typo
_FORMAT_HINT = ("each line is a JSON object with prompt (or messages) and expected; see \"Task files\" in "
                "README.md (examples/tasks.jsonl is one)")


@dataclass(frozen=True, slots=True)
class Contract:
    labels: tuple[str, ...] | None = None
    schema: Mapping[str, Any] | None = None
    fields: tuple[str, ...] | None = None
    regex: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.labels is not None:
            out["labels"] = list(self.labels)
        if self.schema is not None:
            out["schema"] = self.schema
        if self.fields is not None:
            out["fields"] = list(self.fields)
        if self.regex is not None:
            out["regex"] = self.regex
        return out


@dataclass(frozen=True, slots=True)
class Task:
    """One validated task. ``hash`` changes whenever anything that affects its result changes."""

    id: str
    line: int
    messages: list[dict[str, Any]]
    type: str
    scorer: str
    expected: Any = None
    contract: Contract = Contract()
    request: Mapping[str, Any] = field(default_factory=dict)
    dataset: str | None = None
    hash: str = ""

    @property
    def prompt_text(self) -> str:
        """The text the router sees: the user messages joined by newlines."""
        return user_text(self.messages)

    def view(self) -> dict[str, Any]:
        """The mapping scorers receive (the :class:`~smallfirst.core.protocols.Scorer` protocol)."""
        return {"id": self.id, "type": self.type, "expected": self.expected, "contract": self.contract.to_json(),
                "prompt": self.prompt_text, "messages": self.messages}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "hash": self.hash, "line": self.line, "type": self.type,
                               "scorer": self.scorer, "messages": self.messages}
        if self.expected is not None:
            out["expected"] = self.expected
        if contract := self.contract.to_json():
            out["contract"] = contract
        if self.request:
            out["request"] = dict(self.request)
        if self.dataset is not None:
            out["dataset"] = self.dataset
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Task:
        """Rebuild a task from :meth:`to_json` (a run's snapshot; already validated)."""
        c = obj.get("contract") or {}
        contract = Contract(labels=tuple(c["labels"]) if "labels" in c else None, schema=c.get("schema"),
                            fields=tuple(c["fields"]) if "fields" in c else None, regex=c.get("regex"))
        return cls(id=obj["id"], line=int(obj.get("line", 0)), messages=list(obj["messages"]), type=obj["type"],
                   scorer=obj["scorer"], expected=obj.get("expected"), contract=contract,
                   request=obj.get("request") or {}, dataset=obj.get("dataset"), hash=obj["hash"])


class TaskError(ValueError):
    """One line's problem (the loader adds the file name and line number)."""


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, str):
        from smallfirst.evaluate.scorers.number import parse_number

        return parse_number(v)
    return None


def default_scorer(expected: Any, task_type: str, contract: Contract) -> str:
    """The scorer used when a task names none: contract first, then the answer key's shape, then the type."""
    if contract.labels is not None:
        return "label"
    if contract.schema is not None or isinstance(expected, dict):
        return "json"
    if expected is None:
        return "regex" if contract.regex is not None else "judge"
    if task_type == "classify":
        return "label"
    if task_type == "math" or (isinstance(expected, int | float) and not isinstance(expected, bool)):
        return "number"
    if task_type in ("summarise", "translate", "rewrite"):
        return "rouge_l"
    if task_type in ("extract", "knowledge"):
        return "f1"
    texts = expected if isinstance(expected, list) else [expected]
    short = all(isinstance(t, str) and len(t.split()) <= 3 for t in texts)
    return "exact" if short else "f1"


def _contract(raw: Any) -> Contract:
    if raw is None:
        return Contract()
    if not isinstance(raw, dict):
        raise TaskError("'contract' must be an object with labels, schema, fields or regex")
    unknown = sorted(set(raw) - _CONTRACT_KEYS)
    if unknown:
        raise TaskError(f"unknown contract field(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(sorted(_CONTRACT_KEYS))}")
    labels = raw.get("labels")
    if labels is not None and (not isinstance(labels, list) or not labels
                               or not all(isinstance(x, str) and x.strip() for x in labels)):
        raise TaskError("'contract.labels' must be a non-empty list of non-empty strings")
    if labels is not None and len({x.strip() for x in labels}) != len(labels):
        raise TaskError("'contract.labels' has a label twice")
    fields = raw.get("fields")
    if fields is not None and (not isinstance(fields, list) or not all(isinstance(x, str) for x in fields)):
        raise TaskError("'contract.fields' must be a list of field names")
    schema = raw.get("schema")
    if schema is not None:
        if not isinstance(schema, dict):
            raise TaskError("'contract.schema' must be a JSON schema object")
        from smallfirst.config.cascade import schema_problem

        if (problem := schema_problem(schema)) is not None:
            raise TaskError(f"'contract.schema' is not a valid JSON schema: {problem}")
    regex = raw.get("regex")
    if regex is not None:
        _compile(regex, "contract.regex")
    return Contract(labels=tuple(labels) if labels is not None else None, schema=schema,
                    fields=tuple(fields) if fields is not None else None, regex=regex)


def _compile(pattern: Any, where: str) -> None:
    if not isinstance(pattern, str):
        raise TaskError(f"'{where}' must be a regular expression string")
    try:
        re.compile(pattern)
    except re.error as err:
        raise TaskError(f"'{where}' is not a valid regular expression: {err}") from None


def _messages(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    has_prompt, has_messages = "prompt" in obj, "messages" in obj
    if has_prompt == has_messages:
        raise TaskError("give exactly one of 'prompt' (a string) or 'messages' (an OpenAI messages array)")
    if has_prompt:
        if not isinstance(obj["prompt"], str) or not obj["prompt"].strip():
            raise TaskError("'prompt' must be a non-empty string")
        system = obj.get("system")
        if system is not None and not isinstance(system, str):
            raise TaskError("'system' must be a string")
        head = [{"role": "system", "content": system}] if system else []
        return [*head, {"role": "user", "content": obj["prompt"]}]
    if "system" in obj:
        raise TaskError("'system' goes with 'prompt'; with 'messages', put the system message in the array")
    msgs = obj["messages"]
    if not isinstance(msgs, list):
        raise TaskError("'messages' must be an array of {role, content} objects")
    return list(msgs)


def _check_request(messages: list[dict[str, Any]], extra: Any) -> dict[str, Any]:
    from smallfirst.wire.openai_parse import to_request

    if extra is not None and not isinstance(extra, dict):
        raise TaskError("'request' must be an object of chat-completion fields (max_tokens, temperature …)")
    fields: dict[str, Any] = dict(extra or {})
    for key in ("model", "messages", "stream"):
        if key in fields:
            raise TaskError(f"'request.{key}' is set by the runner; remove it")
    mt = fields.get("max_tokens")
    if isinstance(mt, int) and not isinstance(mt, bool) and mt > MAX_TOKENS:
        raise TaskError(f"'request.max_tokens' {mt:,} is more than any model writes (at most {MAX_TOKENS:,})")
    try:
        to_request({"model": "eval", "messages": messages, **fields})
    except SmallfirstError as err:
        raise TaskError(err.message) from None
    return fields


def _check_expected(scorer: str, expected: Any, contract: Contract) -> None:
    if scorer not in SCORER_NAMES:  # a plugin's scorer: what 'expected' means is its own business
        return
    texts = expected if isinstance(expected, list) else [expected]
    if scorer in JUDGE_SCORERS:
        if scorer == "judge_pairwise" and not (isinstance(expected, str) and expected.strip()):
            raise TaskError("scorer 'judge_pairwise' needs 'expected': the reference answer text")
        if expected is not None and not isinstance(expected, str):
            raise TaskError(f"scorer {scorer!r}: 'expected' must be a reference text")
        return
    if scorer == "regex":
        if expected is None and contract.regex is None:
            raise TaskError("scorer 'regex' needs a pattern in 'expected' or 'contract.regex'")
        if expected is not None:
            for pattern in texts:
                _compile(pattern, "expected")
        return
    if expected is None:
        raise TaskError(f"scorer {scorer!r} needs 'expected'")
    if scorer == "json":
        if not isinstance(expected, dict | list) and contract.schema is None:
            raise TaskError("scorer 'json' needs 'expected' as a JSON object (or array), or a contract.schema")
        if contract.fields is not None:
            from smallfirst.evaluate.scorers.jsonfield import has_path

            absent = [f for f in contract.fields if not has_path(expected, f)]
            if absent:
                raise TaskError(f"contract.fields {absent} are not in 'expected'")
        return
    if scorer == "number":
        if any(_number(t) is None for t in texts):
            raise TaskError(f"scorer 'number' needs a numeric 'expected', got {expected!r}")
        return
    if not texts or not all(isinstance(t, str | int | float) and not isinstance(t, bool) for t in texts):
        raise TaskError(f"scorer {scorer!r} needs 'expected' as text (or a list of texts), got {expected!r}")
    if scorer == "label" and contract.labels is not None:
        from smallfirst.evaluate.scorers.text import normalise

        allowed = {normalise(x) for x in contract.labels}
        missing = [t for t in texts if normalise(str(t)) not in allowed]
        if missing:
            raise TaskError(f"expected label {missing[0]!r} is not in contract.labels {list(contract.labels)}")


def content_hash(obj: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def parse_task(obj: Any, line: int) -> Task:
    """Validate one decoded line; raises :class:`TaskError` naming the problem (no line prefix)."""
    from smallfirst.signals import extract, normalise_task
    from smallfirst.wire.openai_parse import to_request

    if not isinstance(obj, dict):
        raise TaskError(f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - _KEYS)
    if unknown:
        raise TaskError(f"unknown field(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(_KEYS))}")
    messages = _messages(obj)
    extra = _check_request(messages, obj.get("request"))
    contract = _contract(obj.get("contract"))
    raw_type = obj.get("type")
    if raw_type is not None and (not isinstance(raw_type, str) or not raw_type.strip()):
        raise TaskError("'type' must be a non-empty string such as classify, extract, summarise or math")
    task_type = (normalise_task(raw_type) if raw_type is not None
                 else extract(to_request({"model": "eval", "messages": messages})).task_type)
    expected = obj.get("expected")
    scorer = obj.get("scorer")
    if scorer is not None and scorer not in SCORER_NAMES:
        from smallfirst.config.registry import names

        known = names("scorer")  # the built-ins and every installed plugin's
        if scorer not in known:
            raise TaskError(f"unknown scorer {scorer!r}; use one of: {', '.join(known)}")
    scorer = scorer or default_scorer(expected, task_type, contract)
    _check_expected(scorer, expected, contract)
    dataset = obj.get("dataset")
    if dataset is not None and not isinstance(dataset, str):
        raise TaskError("'dataset' must be a string")
    body = {"messages": messages, "type": task_type, "scorer": scorer, "expected": expected,
            "contract": contract.to_json(), "request": extra}
    h = content_hash(body)
    tid = obj.get("id", h[:12])
    if isinstance(tid, int) and not isinstance(tid, bool):
        tid = str(tid)
    if not isinstance(tid, str) or not tid.strip():
        raise TaskError("'id' must be a non-empty string (or leave it out)")
    return Task(id=tid, line=line, messages=messages, type=task_type, scorer=scorer, expected=expected,
                contract=contract, request=extra, dataset=dataset, hash=h)


def load_tasks(path: str | Path) -> list[Task]:
    """Read and validate a task file; every bad line is reported (the first few in full)."""
    p = Path(path)
    if not p.is_file():
        raise BadRequestError(f"task file {str(p)!r} not found", hint=_FORMAT_HINT)
    tasks: list[Task] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    with p.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as err:
                errors.append(f"line {n}: not valid JSON ({err.msg} at column {err.colno})")
                continue
            try:
                task = parse_task(obj, n)
            except TaskError as err:
                errors.append(f"line {n}: {err}")
                continue
            if task.id in seen:
                errors.append(f"line {n}: duplicate task id {task.id!r} (first on line {seen[task.id]})")
                continue
            seen[task.id] = n
            tasks.append(task)
    if errors:
        more = f" … and {len(errors) - _SHOWN} more" if len(errors) > _SHOWN else ""
        noun = "line" if len(errors) == 1 else "lines"
        raise BadRequestError(f"{p}: {len(errors)} invalid {noun}: " + "; ".join(errors[:_SHOWN]) + more,
                              hint=_FORMAT_HINT)
    if not tasks:
        raise BadRequestError(f"task file {str(p)!r} has no tasks", hint=_FORMAT_HINT)
    return tasks
