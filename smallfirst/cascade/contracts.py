"""Which contract a request carries: a ``[[cascade.tasks]]`` profile named in
``metadata.smallfirst_task``, an inline ``metadata.smallfirst_contract`` (a JSON object, or a JSON
string since OpenAI metadata values are strings; its keys override the named profile's), and, when
``cascade.schema_from_response_format`` is on, the schema of a ``response_format`` json_schema.

A bad contract is the client's error: :class:`~smallfirst.core.errors.BadRequestError` (HTTP 400)
naming the field and the problem. Compiled contracts are cached per distinct contract.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ValidationError

from smallfirst.cascade.contract import Contract
from smallfirst.config.cascade import CONTRACT_FIELD, TASK_FIELD, CascadeConfig, ContractSpec
from smallfirst.core.errors import BadRequestError
from smallfirst.core.types import ChatRequest

CACHE_SIZE = 512
_SPEC_FIELDS = frozenset(ContractSpec.model_fields)


def _bad(message: str, param: str, hint: str = "") -> BadRequestError:
    return BadRequestError(message, hint=hint or "see the contract keys in smallfirst/config/cascade.py",
                           param=param)


def _validation_message(err: ValidationError, where: str) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        msg = str(e["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}.{loc}: {msg}" if loc else f"{where}: {msg}")
    return "; ".join(parts)


def _schema_of(response_format: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(response_format, Mapping) or response_format.get("type") != "json_schema":
        return None
    js = response_format.get("json_schema")
    schema = js.get("schema") if isinstance(js, Mapping) else None
    return schema if isinstance(schema, dict) and schema else None


class Contracts:
    """Resolves and caches the contract of each request."""

    def __init__(self, cfg: CascadeConfig, cache_size: int = CACHE_SIZE) -> None:
        self.cfg = cfg
        self.tasks = {t.name: t.model_dump(exclude={"name"}, exclude_defaults=True) for t in cfg.tasks}
        self._cache: OrderedDict[bytes, Contract | None] = OrderedDict()
        self._cache_size = cache_size

    def for_request(self, request: ChatRequest) -> Contract | None:
        meta = request.metadata
        task = meta.get(TASK_FIELD) if meta else None
        inline = meta.get(CONTRACT_FIELD) if meta else None
        schema = _schema_of(request.response_format) if self.cfg.schema_from_response_format else None
        if task is None and inline is None and schema is None:
            return None
        try:
            key = orjson.dumps([task, inline, schema], option=orjson.OPT_SORT_KEYS)
        except TypeError:
            raise _bad(f"metadata.{CONTRACT_FIELD} is not JSON-serialisable", f"metadata.{CONTRACT_FIELD}") from None
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        contract = self._build(task, inline, schema)
        self._cache[key] = contract
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return contract

    def _build(self, task: Any, inline: Any, schema: dict[str, Any] | None) -> Contract | None:
        fields: dict[str, Any] = {}
        name: str | None = None
        if task is not None:
            if not isinstance(task, str) or task not in self.tasks:
                known = ", ".join(sorted(self.tasks)) or "none are configured"
                raise _bad(f"metadata.{TASK_FIELD}: unknown task {task!r}", f"metadata.{TASK_FIELD}",
                           f"tasks in [[cascade.tasks]]: {known}")
            fields.update(self.tasks[task])
            name = task
        if inline is not None:
            fields.update(self._inline(inline))
        if schema is not None and "labels" not in fields and "json_schema" not in fields:
            fields["json_schema"] = schema
            fields.setdefault("constrain", False)  # the client's own response_format already constrains
        param = (f"metadata.{CONTRACT_FIELD}" if inline is not None else
                 f"metadata.{TASK_FIELD}" if task is not None else "response_format")
        try:
            spec = ContractSpec.model_validate(fields)
        except ValidationError as err:
            raise _bad(_validation_message(err, param), param) from None
        if spec.is_empty() and name is None:
            return None
        return Contract.compile(spec, name)

    def _inline(self, inline: Any) -> dict[str, Any]:
        param = f"metadata.{CONTRACT_FIELD}"
        if isinstance(inline, str):
            try:
                inline = orjson.loads(inline)
            except orjson.JSONDecodeError as err:
                raise _bad(f"{param} is not valid JSON ({err})", param,
                           "send a JSON object, or a string holding one") from None
        if not isinstance(inline, dict):
            raise _bad(f"{param} must be a JSON object (or a string holding one), got {type(inline).__name__}",
                       param)
        unknown = sorted(set(inline) - _SPEC_FIELDS)
        if unknown:
            raise _bad(f"{param}: unknown key(s) {', '.join(unknown)}", param,
                       f"contract keys: {', '.join(sorted(_SPEC_FIELDS))}")
        return inline
