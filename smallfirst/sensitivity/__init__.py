"""L2: sensitive-data detection (PII, PHI, secrets, financial ids) and optional redaction.

``Detector.detect(request) -> Findings`` is what the request path calls; ``Findings`` carries entity
types and counts only, never the matched text. The engine hands findings to policies through
``Signals.extra[SIGNAL_KEY]`` (and ``Signals.sensitive_classes = findings.data_classes``).
"""

from smallfirst.sensitivity.detector import Detector, default_recognizers, known_entities
from smallfirst.sensitivity.findings import (
    DATA_CLASSES,
    FINANCIAL,
    NO_FINDINGS,
    PHI,
    PII,
    SECRET,
    Findings,
    Span,
    data_class_of,
)
from smallfirst.sensitivity.redaction import RedactionMap, StreamRestorer, restore
from smallfirst.sensitivity.signal import SIGNAL_KEY, attach, with_sensitivity

__all__ = [
    "DATA_CLASSES",
    "FINANCIAL",
    "NO_FINDINGS",
    "PHI",
    "PII",
    "SECRET",
    "SIGNAL_KEY",
    "Detector",
    "Findings",
    "RedactionMap",
    "Span",
    "StreamRestorer",
    "attach",
    "data_class_of",
    "default_recognizers",
    "known_entities",
    "restore",
    "with_sensitivity",
]
