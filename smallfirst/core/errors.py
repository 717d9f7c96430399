"""One error tree. Each error knows its HTTP status, OpenAI error type/code and a fix hint."""

from __future__ import annotations

from typing import Any, ClassVar


class SmallfirstError(Exception):
    """Base of every error smallfirst raises on purpose."""

    status: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    code: ClassVar[str | None] = None
    retryable: ClassVar[bool] = False  # another endpoint or tier, or a later try, may succeed
    # May an API client retry this *at once* on its own? ``None``: as ``retryable`` says. The gateway sends
    # ``x-should-retry: false`` when not: the openai and anthropic SDKs otherwise retry 408/409/429/5xx.
    client_retry: ClassVar[bool | None] = None

    def __init__(self, message: str, *, hint: str = "", param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.param = param

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI-shaped error body: ``{"error": {message, type, param, code}}``."""
        text = self.message if not self.hint else f"{self.message} (hint: {self.hint})"
        return {"error": {"message": text, "type": self.error_type, "param": self.param, "code": self.code}}

    @property
    def should_retry(self) -> bool:
        """Whether a client's automatic, immediate retry could succeed (the ``x-should-retry`` header)."""
        return self.retryable if self.client_retry is None else self.client_retry

    def one_line(self) -> str:
        """A single readable line for the CLI."""
        return self.message if not self.hint else f"{self.message} — {self.hint}"


class ConfigError(SmallfirstError):
    status = 500
    error_type = "configuration_error"
    code = "config_invalid"


class BadRequestError(SmallfirstError):
    status = 400
    error_type = "invalid_request_error"
    code = "invalid_request"


class PayloadTooLargeError(BadRequestError):
    status = 413
    code = "payload_too_large"


class ModelNotFoundError(SmallfirstError):
    status = 404
    error_type = "invalid_request_error"
    code = "model_not_found"


class NotFoundError(SmallfirstError):
    status = 404
    error_type = "invalid_request_error"
    code = "not_found"


class MethodNotAllowedError(SmallfirstError):
    status = 405
    error_type = "invalid_request_error"
    code = "method_not_allowed"


class AuthenticationError(SmallfirstError):
    status = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class PermissionDeniedError(SmallfirstError):
    status = 403
    error_type = "permission_error"
    code = "permission_denied"


class RateLimitError(SmallfirstError):
    status = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"
    retryable = True

    def __init__(self, message: str, *, hint: str = "", retry_after_s: float | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after_s = retry_after_s


class BudgetExceededError(RateLimitError):
    """A gateway API key has spent its daily or monthly USD budget."""

    code = "budget_exceeded"


class ShuttingDownError(SmallfirstError):
    """The gateway stopped a request that was still running when its shutdown bound ran out."""

    status = 503
    error_type = "server_error"
    code = "shutting_down"
    retryable = True
    retry_after_s = 1.0


class PolicyBlockedError(SmallfirstError):
    """A pinning policy (residency) left no tier that may answer this request: a refusal by configuration.

    No retry of the same request can succeed until the configuration changes, so it is a ``403``
    (``permission_error``, the SDKs' ``PermissionDeniedError``) that no SDK retries. Fail closed.
    """

    status = 403
    error_type = "permission_error"
    code = "policy_blocked"


RESIDENCY_RETRY_AFTER_S = 5.0  # Retry-After of a fail-closed 503 when the local failure gives none


class ResidencyUnavailableError(PolicyBlockedError):
    """The tiers the residency policy allows failed (down, timed out, 5xx, open breaker) and the fallback
    the request would otherwise get was withheld (fail closed). Raise it ``from`` the upstream error.

    A later try may succeed once the local tier is back (``503`` with ``Retry-After``: the open breaker's
    remaining cooldown, else ``RESIDENCY_RETRY_AFTER_S``), but an SDK's immediate retries would hit the same
    down tier and multiply the client's wait: ``x-should-retry: false``.
    """

    status = 503
    error_type = "policy_error"
    code = "policy_blocked"
    retryable = True
    client_retry = False

    @property
    def retry_after_s(self) -> float:
        cause = getattr(self.__cause__, "retry_after_s", None)
        return float(cause) if isinstance(cause, int | float) and cause > 0 else RESIDENCY_RETRY_AFTER_S


# --- upstream errors: raised by backends, translated from wire errors in smallfirst.backends.errors ---


class UpstreamError(SmallfirstError):
    status = 502
    error_type = "upstream_error"
    code = "upstream_error"
    retryable = True


class UpstreamTimeoutError(UpstreamError):
    status = 504
    code = "upstream_timeout"


class UpstreamUnavailableError(UpstreamError):
    status = 503
    code = "upstream_unavailable"


class CircuitOpenError(UpstreamUnavailableError):
    """The endpoint's circuit breaker is open after repeated failures; it was not called."""

    code = "circuit_open"

    def __init__(self, message: str, *, hint: str = "", retry_after_s: float | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after_s = retry_after_s


class UpstreamRateLimitError(UpstreamError):
    status = 429
    error_type = "rate_limit_error"
    code = "upstream_rate_limited"

    def __init__(self, message: str, *, hint: str = "", retry_after_s: float | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after_s = retry_after_s


class UpstreamAuthError(UpstreamError):
    status = 502
    code = "upstream_auth_failed"


class UpstreamBadRequestError(UpstreamError):
    status = 400
    error_type = "invalid_request_error"
    code = "upstream_bad_request"
    retryable = False


class ContextWindowExceededError(UpstreamBadRequestError):
    code = "context_length_exceeded"
    retryable = True  # a bigger-context tier may still answer


class StreamInterruptedError(UpstreamError):
    """The upstream failed after the first byte of a stream was sent to the client."""

    code = "upstream_stream_interrupted"
