"""The raw schema of task contracts: ``[cascade]`` and ``[[cascade.tasks]]`` in config, and the
``metadata.smallfirst_contract`` extension field of a request (same keys).

A contract says what an acceptable answer looks like; the cascade (:mod:`smallfirst.cascade`)
checks every answer against it and escalates one tier when it fails::

    [[cascade.tasks]]
    name = "sentiment"
    labels = ["positive", "negative", "neutral"]
    min_confidence = 0.7

    [[cascade.tasks]]
    name = "invoice"
    json_schema = '{"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}'
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CONTRACT_FIELD = "smallfirst_contract"  # metadata key: an inline contract (object or JSON string)
TASK_FIELD = "smallfirst_task"  # metadata key: the name of a [[cascade.tasks]] profile

REFUSAL_MARKERS = (
    r"I('m| am) sorry", r"I (cannot|can't|can not|won't|will not|am unable to|am not able to)",
    r"I'm (unable|not able) to", r"as an AI( language model)?", r"I apologi[sz]e",
)
UNCERTAINTY_MARKERS = (
    r"I('m| am) not (sure|certain)", r"I don't know", r"I do not know", r"it is (unclear|not clear)",
    r"I('m| am) uncertain", r"hard to (say|tell)",
)


def validator_class(schema: Any) -> Any:
    """The jsonschema validator class for ``schema`` (its ``$schema``; default draft 2020-12)."""
    from jsonschema import Draft202012Validator
    from jsonschema.validators import validator_for

    return validator_for(schema, default=Draft202012Validator)


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a valid JSON schema (the path inside it and the problem), or None."""
    from jsonschema.exceptions import best_match

    if not isinstance(schema, dict):
        return f"must be a JSON object, got {type(schema).__name__}"
    cls = validator_class(schema)
    err = best_match(cls(cls.META_SCHEMA).iter_errors(schema))
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path) or "(root)"
    return f"at {where}: {err.message}"


class ContractSpec(BaseModel):
    """What an acceptable answer looks like. Every check is optional; unset means not checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: list[str] | None = Field(default=None, description="the answer must be exactly one of these")
    case_sensitive: bool = Field(default=False, description="labels: match case exactly")
    json_schema: dict[str, Any] | None = Field(default=None, description="the answer must be JSON valid "
                                               "against this schema (a table, or a JSON string)")
    required: list[str] | None = Field(default=None, description="fields the JSON answer must have "
                                       "(dotted paths for nested fields, e.g. address.city)")
    regex: str | None = Field(default=None, description="the whole answer (trimmed) must match this regex")
    max_chars: int | None = Field(default=None, ge=1, description="longest acceptable answer, in characters")
    min_confidence: float | None = Field(default=None, ge=0, le=1, description="lowest acceptable confidence "
                                         "from token log-probabilities (checked when the tier returns them)")
    confidence: Literal["auto", "label", "mean", "min"] = Field(
        default="auto", description="how log-probs become a confidence: label (the label tokens' probability, "
        "normalised over the allowed labels), mean / min (of the token log-probs); auto: label when labels are set")
    refusal: bool = Field(default=True, description="reject refusals and uncertainty markers")
    constrain: bool = Field(default=True, description="ask local tiers for schema/label-constrained output "
                            "when they support it and the request has no response_format")
    escalate: bool = Field(default=True, description="false: a failed check is recorded, not escalated")
    self_consistency: int = Field(default=0, ge=0, le=10, description="k ≥ 2: draw k-1 more samples from "
                                  "the same endpoint; they must agree with the answer")
    min_agreement: float = Field(default=1.0, gt=0, le=1, description="self-consistency: share of the k "
                                 "answers that must equal the first")
    verifier: bool = Field(default=False, description="ask the next tier up whether the answer is right "
                           "(its cost is counted); only tiers the request may use are asked")

    @field_validator("json_schema", mode="before")
    @classmethod
    def _schema_text(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                return json.loads(v)
            except json.JSONDecodeError as err:
                raise ValueError(f"is not valid JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
        return v

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None and (problem := schema_problem(v)) is not None:
            raise ValueError(f"is not a valid JSON schema: {problem}")
        return v

    @field_validator("regex")
    @classmethod
    def _valid_regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as err:
                raise ValueError(f"is not a valid regular expression: {err}") from None
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v or any(not s.strip() for s in v):
                raise ValueError("must be a non-empty list of non-empty labels")
            if len({s.strip() for s in v}) != len(v):
                raise ValueError("has a label twice")
        return v

    @field_validator("required")
    @classmethod
    def _required(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and any(not p or any(not part for part in p.split(".")) for p in v):
            raise ValueError("field paths must be non-empty (dotted for nested fields, e.g. address.city)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ContractSpec:
        if self.labels is not None and (self.json_schema is not None or self.required is not None):
            raise ValueError("a contract has either labels or a JSON answer (json_schema / required), not both")
        if self.confidence == "label" and self.labels is None:
            raise ValueError("confidence = 'label' needs labels")
        return self

    def is_empty(self) -> bool:
        return not (self.labels or self.json_schema is not None or self.required or self.regex or self.max_chars
                    or self.min_confidence is not None or self.self_consistency >= 2 or self.verifier)


class TaskProfile(ContractSpec):
    """A named contract in config; a request picks it with ``metadata.smallfirst_task``."""

    name: str = Field(min_length=1)


class CascadeConfig(BaseModel):
    """``[cascade]``: the acceptance check between tiers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="check answers of requests that carry a contract")
    check_tool_calls: bool = Field(default=True, description="check tool-call answers (an offered function, "
                                   "arguments that parse and match its schema, a forced tool_choice obeyed) "
                                   "and escalate failures; applies even with enabled = false")
    schema_from_response_format: bool = Field(
        default=True, description="a request with response_format json_schema gets that schema as its contract")
    refusal_markers: list[str] = Field(default_factory=lambda: list(REFUSAL_MARKERS),
                                       description="regexes (case-insensitive) that mark a refusal")
    uncertainty_markers: list[str] = Field(default_factory=lambda: list(UNCERTAINTY_MARKERS),
                                           description="regexes (case-insensitive) that mark an unsure answer")
    sample_temperature: float = Field(default=0.7, ge=0, le=2, description="self-consistency sampling")
    tasks: list[TaskProfile] = Field(default_factory=list)

    @field_validator("refusal_markers", "uncertainty_markers")
    @classmethod
    def _markers(cls, v: list[str]) -> list[str]:
        for m in v:
            try:
                re.compile(m)
            except re.error as err:
                raise ValueError(f"marker {m!r} is not a valid regular expression: {err}") from None
        return v

    @model_validator(mode="after")
    def _unique(self) -> CascadeConfig:
        seen: set[str] = set()
        for t in self.tasks:
            if t.name in seen:
                raise ValueError(f"task name {t.name!r} is used twice; task names must be unique")
            seen.add(t.name)
        return self
