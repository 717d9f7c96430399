"""L2: sensitive-data detection (PII, PHI, secrets, financial ids) and optional redaction.

``Detector.detect(request) -> Findings`` is what the request path calls; ``Findings`` carries entity
types and counts only, never the matched text. The request's findings travel in
``Signals.sensitivity`` (and ``Signals.sensitive_classes = findings.data_classes``).
"""

from smallfirst.core.findings import (
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
from smallfirst.sensitivity.detector import Detector, default_recognizers, known_entities
from smallfirst.sensitivity.redaction import RedactionMap, StreamRestorer, restore
from smallfirst.sensitivity.signal import attach, with_sensitivity

__all__ = [
    "DATA_CLASSES",
    "FINANCIAL",
    "NO_FINDINGS",
    "PHI",
    "PII",
    "SECRET",
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
