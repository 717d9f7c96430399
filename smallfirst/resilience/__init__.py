"""Per-endpoint resilience: circuit breaker, same-endpoint retries with jittered backoff, stream timeouts."""

from smallfirst.resilience.backend import ResilientBackend, resilient
from smallfirst.resilience.breaker import CircuitBreaker

__all__ = ["CircuitBreaker", "ResilientBackend", "resilient"]
