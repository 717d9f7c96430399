"""Error headers: ``retry-after`` and ``x-should-retry`` so that SDK clients retry only what a retry can fix."""

from __future__ import annotations

import pytest

from smallfirst.core.errors import (
    RESIDENCY_RETRY_AFTER_S,
    BadRequestError,
    CircuitOpenError,
    ConfigError,
    PolicyBlockedError,
    RateLimitError,
    ResidencyUnavailableError,
    ShuttingDownError,
    SmallfirstError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from smallfirst.server.headers import error_headers


def headers(err: SmallfirstError) -> dict[bytes, bytes]:
    return dict(error_headers(err, "req-1"))


def raised_from(cause: Exception) -> ResidencyUnavailableError:
    try:
        try:
            raise cause
        except Exception as e:
            raise ResidencyUnavailableError("the local tiers could not answer (fail closed)") from e
    except ResidencyUnavailableError as err:
        return err


def test_a_refusal_by_configuration_is_a_403_no_sdk_retries() -> None:
    err = PolicyBlockedError("no tier may serve this request: residency …")
    assert (err.status, err.error_type, err.code) == (403, "permission_error", "policy_blocked")
    assert headers(err) == {b"x-request-id": b"req-1", b"x-should-retry": b"false"}


def test_a_refusal_after_the_local_tiers_failed_is_a_503_to_retry_later_not_now() -> None:
    err = raised_from(UpstreamTimeoutError("local: no first byte in 5 s"))
    assert isinstance(err, PolicyBlockedError) and err.status == 503 and err.code == "policy_blocked"
    assert err.retryable and not err.should_retry
    assert headers(err) == {b"x-request-id": b"req-1", b"retry-after": str(round(RESIDENCY_RETRY_AFTER_S)).encode(),
                            b"x-should-retry": b"false"}
    breaker = raised_from(CircuitOpenError("local: circuit open", retry_after_s=21.6))
    assert headers(breaker)[b"retry-after"] == b"22"  # the open breaker's remaining cooldown
    assert ResidencyUnavailableError("not raised from anything").retry_after_s == RESIDENCY_RETRY_AFTER_S


@pytest.mark.parametrize("err", [UpstreamUnavailableError("x"), UpstreamTimeoutError("x"),
                                 ShuttingDownError("x"), RateLimitError("x", retry_after_s=2)])
def test_transient_errors_leave_retries_to_the_sdk(err: SmallfirstError) -> None:
    assert b"x-should-retry" not in headers(err)


@pytest.mark.parametrize("err", [ConfigError("x"), BadRequestError("x")])
def test_errors_no_retry_can_fix_say_so(err: SmallfirstError) -> None:
    assert headers(err)[b"x-should-retry"] == b"false"
