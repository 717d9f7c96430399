"""The request log's ``feedback`` table: what a client said about one logged answer (``POST /v1/feedback``).

One row per feedback call (several for one request are kept; readers take the latest). ``score`` is in
[0, 1] (a ``label`` alone gives good = 1, bad = 0), ``correction`` the answer that should have been given,
``comment`` free text. Text (correction, comment) is kept under the request log's rule: only with
``log.store_prompts`` and never for a sensitive request; otherwise ``text_dropped`` is 1 and only the
score and label are kept. ``tier`` is the tier that served the request (copied from its log row).

The SQL here is written with ``?`` placeholders; the PostgreSQL store rewrites them to ``%s``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

FEEDBACK_TABLE_SQLITE = """
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        feedback_id TEXT NOT NULL,
        request_id TEXT NOT NULL,
        ts REAL NOT NULL,
        api_key_id TEXT,
        tier TEXT,
        score REAL,
        label TEXT,
        correction TEXT,
        comment TEXT,
        text_dropped INTEGER NOT NULL
    );
    CREATE INDEX feedback_request ON feedback(request_id);
    CREATE INDEX feedback_ts ON feedback(ts);
    CREATE INDEX requests_request_id ON requests(request_id);
"""
FEEDBACK_TABLE_POSTGRES = (FEEDBACK_TABLE_SQLITE.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
                           .replace(" REAL", " DOUBLE PRECISION"))

_COLUMNS = ("feedback_id", "request_id", "ts", "api_key_id", "tier", "score", "label", "correction", "comment",
            "text_dropped")
INSERT = f"INSERT INTO feedback ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
SELECT = f"SELECT {', '.join(_COLUMNS)} FROM feedback WHERE ts >= ? AND ts <= ? ORDER BY ts, id"

Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class Feedback:
    """One feedback row."""

    feedback_id: str
    request_id: str
    ts: float
    api_key_id: str | None
    tier: str | None
    score: float | None = None
    label: str | None = None
    correction: str | None = None
    comment: str | None = None
    text_dropped: bool = False

    def effective_score(self) -> float | None:
        """The score, else the label's (good 1, bad 0), else None (a comment alone). A correction alone is
        stored with label ``bad`` (the answer was not the one that should have been given)."""
        if self.score is not None:
            return self.score
        if self.label is not None:
            return 1.0 if self.label == "good" else 0.0
        return None

    def to_row(self) -> tuple[Any, ...]:
        return (self.feedback_id, self.request_id, self.ts, self.api_key_id, self.tier, self.score, self.label,
                self.correction, self.comment, int(self.text_dropped))

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Feedback:
        d = dict(zip(_COLUMNS, row, strict=True))
        return cls(**{**d, "text_dropped": bool(d["text_dropped"])})


def select(execute: Execute, since: float | None, until: float | None) -> list[Feedback]:
    rows = execute(SELECT, [since if since is not None else 0.0, until if until is not None else 1e18])
    return [Feedback.from_row(r) for r in rows]


def latest_by_request(rows: Sequence[Feedback]) -> dict[str, Feedback]:
    """Request id → its latest feedback with a score (rows are in time order)."""
    out: dict[str, Feedback] = {}
    for f in rows:
        if f.effective_score() is not None:
            out[f.request_id] = f
    return out
