"""Put a request's findings into its ``Signals`` (so policies and the log see them)."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable

from smallfirst.core.findings import Findings
from smallfirst.core.types import ChatRequest, Signals
from smallfirst.sensitivity.detector import Detector

# Signals' fields in constructor order: a positional rebuild is about twice as fast as dataclasses.replace
_FIELDS = tuple(f.name for f in dataclasses.fields(Signals) if f.init)
_GET_FIELDS = operator.attrgetter(*_FIELDS)
_CLASSES = _FIELDS.index("sensitive_classes")
_SENSITIVITY = _FIELDS.index("sensitivity")


def attach(signals: Signals, findings: Findings) -> Signals:
    """``signals`` with ``sensitive_classes`` and ``sensitivity`` set from ``findings``."""
    current, found = signals.sensitive_classes, findings.data_classes
    values = list(_GET_FIELDS(signals))
    values[_CLASSES] = tuple(sorted(set(current) | set(found))) if current or found else ()
    values[_SENSITIVITY] = findings
    return Signals(*values)


def with_sensitivity(signal_fn: Callable[[ChatRequest], Signals],
                     detector: Detector) -> Callable[[ChatRequest], Signals]:
    """Wrap a signals function so every request's signals carry its sensitivity findings."""

    def signals(request: ChatRequest) -> Signals:
        return attach(signal_fn(request), detector.detect(request))

    return signals
