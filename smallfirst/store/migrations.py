"""Ordered schema migrations. Append only; never edit a released step."""

from __future__ import annotations

SQLITE_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL,
        ts REAL NOT NULL,
        requested_model TEXT NOT NULL,
        tier TEXT,
        model TEXT,
        endpoint TEXT,
        status INTEGER NOT NULL,
        error_code TEXT,
        reason TEXT NOT NULL,
        escalations TEXT NOT NULL,
        attempts TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        latency_ms REAL NOT NULL,
        ttft_ms REAL,
        stream INTEGER NOT NULL,
        task_type TEXT,
        sensitive TEXT NOT NULL,
        prompt_text TEXT,
        response_text TEXT,
        api_key_id TEXT
    );
    CREATE INDEX requests_ts ON requests(ts);
    CREATE INDEX requests_tier_ts ON requests(tier, ts);
    """,
)
