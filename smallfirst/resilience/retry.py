"""Which upstream errors are worth retrying on the same endpoint, and how long to wait first."""

from __future__ import annotations

import random

from smallfirst.core.errors import (
    CircuitOpenError,
    StreamInterruptedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
)

BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 2.0
MAX_RETRY_AFTER_S = 5.0  # a longer upstream Retry-After is not waited for: the tier chain falls back instead


def transient(err: UpstreamError) -> bool:
    """True for failures that another try of the same endpoint may not repeat.

    Timeouts, refused/reset connections, 5xx and 429 are transient. Authentication failures, bad
    requests (context overflow included), an open circuit and a stream cut after its first chunk
    are not: retrying cannot help, or the client already holds part of the answer.
    """
    return not isinstance(err, UpstreamAuthError | UpstreamBadRequestError | CircuitOpenError
                          | StreamInterruptedError)


def counts_as_failure(err: UpstreamError) -> bool:
    """Does this error say the endpoint is unhealthy (for the circuit breaker)?

    A request the upstream rejects as malformed (400/413/422, context overflow) says nothing
    about its health; everything else (timeouts, 5xx, 429, auth, cut streams) does.
    """
    return not isinstance(err, UpstreamBadRequestError | CircuitOpenError)


def backoff_s(attempt: int, err: UpstreamError, rng: random.Random) -> float | None:
    """Seconds to wait before retry number ``attempt`` (0-based), or None when not worth waiting.

    Full jitter: uniform in [0, min(cap, base · 2^attempt)]. A 429 with ``Retry-After`` waits
    exactly that long when it is short, and is not retried when it is long.
    """
    if isinstance(err, UpstreamRateLimitError) and err.retry_after_s is not None:
        return err.retry_after_s if err.retry_after_s <= MAX_RETRY_AFTER_S else None
    return rng.uniform(0.0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2 ** attempt)))
