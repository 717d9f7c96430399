"""Ordered schema migrations. Append only; never edit a released step."""

from __future__ import annotations

from smallfirst.store.feedback import FEEDBACK_TABLE_POSTGRES, FEEDBACK_TABLE_SQLITE

# Step 2 (both dialects): the rollup table the admin summary reads; see smallfirst/store/rollup.py.
# Step 3: rebuild it with 10-minute cells as well. After each step in ROLLUP_BACKFILL_STEPS the store
# rolls up the rows already logged, inside the same migration transaction (rollup.backfill).
ROLLUP_TABLE = """
    CREATE TABLE request_rollup (
        res INTEGER NOT NULL,
        t BIGINT NOT NULL,
        dim TEXT NOT NULL,
        tier TEXT NOT NULL,
        key TEXT NOT NULL,
        n BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        prompt_tokens BIGINT NOT NULL,
        completion_tokens BIGINT NOT NULL,
        latency_ms DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (res, t, dim, tier, key)
    )
"""
ROLLUP_BACKFILL_STEPS = frozenset({2, 3})
REBUILD_ROLLUP = "DELETE FROM request_rollup"
# Step 4: the rollup's ``egress`` cells (where each sensitive request's data went, from the locations and
# redaction logged with its attempts) for the rows already logged: the step clears them, then the store
# rolls up the sensitive rows again for that one dimension (rollup.egress_items), in the same transaction.
# It reads only the request log, so a tier's locality changed in config since does not rewrite history.
EGRESS_BACKFILL_STEPS = frozenset({4})
REBUILD_EGRESS = "DELETE FROM request_rollup WHERE dim = 'egress'"
# Step 5: the feedback table (POST /v1/feedback, smallfirst/store/feedback.py) and an index on request_id.

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
    ROLLUP_TABLE + " WITHOUT ROWID",
    REBUILD_ROLLUP,
    REBUILD_EGRESS,
    FEEDBACK_TABLE_SQLITE,
)

POSTGRES_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE requests (
        id BIGSERIAL PRIMARY KEY,
        request_id TEXT NOT NULL,
        ts DOUBLE PRECISION NOT NULL,
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
        cost_usd DOUBLE PRECISION NOT NULL,
        latency_ms DOUBLE PRECISION NOT NULL,
        ttft_ms DOUBLE PRECISION,
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
    ROLLUP_TABLE,
    REBUILD_ROLLUP,
    REBUILD_EGRESS,
    FEEDBACK_TABLE_POSTGRES,
)
