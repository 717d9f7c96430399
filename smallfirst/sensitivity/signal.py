"""Put a request's findings into its ``Signals`` (so policies and the log see them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from smallfirst.core.types import ChatRequest, Signals
from smallfirst.sensitivity.detector import Detector
from smallfirst.sensitivity.findings import Findings

SIGNAL_KEY = "sensitivity"  # Signals.extra[SIGNAL_KEY] holds the request's Findings


def attach(signals: Signals, findings: Findings) -> Signals:
    """``signals`` with ``sensitive_classes`` set and ``extra["sensitivity"] = findings``."""
    classes = tuple(sorted(set(signals.sensitive_classes) | set(findings.data_classes)))
    return dataclasses.replace(signals, sensitive_classes=classes, extra={**signals.extra, SIGNAL_KEY: findings})


def with_sensitivity(signal_fn: Callable[[ChatRequest], Signals],
                     detector: Detector) -> Callable[[ChatRequest], Signals]:
    """Wrap a signals function so every request's signals carry its sensitivity findings."""

    def signals(request: ChatRequest) -> Signals:
        return attach(signal_fn(request), detector.detect(request))

    return signals
