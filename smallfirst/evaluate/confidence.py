"""An eval task seen as the cascade sees a request: its contract (labels / JSON schema) drives the
constrained decoding local tiers get, and the answer's confidence is computed exactly as the
cascade computes it (:mod:`smallfirst.cascade.confidence`: the label's share of the label mass for
classification, exp(mean token log-prob) otherwise), so the confidences in the outcomes file
calibrate the cascade's thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smallfirst.cascade.contract import Contract
from smallfirst.evaluate.tasks import Task


def cascade_contract(task: Task) -> Contract | None:
    """The cascade contract for a task with labels or a JSON schema (``None`` otherwise)."""
    from smallfirst.config.cascade import ContractSpec

    c = task.contract
    if c.labels is None and c.schema is None:
        return None
    spec = ContractSpec(labels=list(c.labels) if c.labels is not None else None,
                        json_schema=dict(c.schema) if c.schema is not None else None)
    return Contract.compile(spec, task.id)


def answer_confidence(contract: Contract | None, logprobs: Mapping[str, Any] | None, answer: str) -> float | None:
    """The cascade's confidence in ``answer`` (``None`` without token log-probabilities)."""
    from smallfirst.cascade.confidence import confidence

    if contract is None:
        return confidence(logprobs, "mean")
    return confidence(logprobs, contract.confidence_method, contract.label_of(answer), contract.labels)
