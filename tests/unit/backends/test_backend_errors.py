"""smallfirst.backends.errors: vendor error bodies, statuses and exceptions → typed upstream errors."""

from __future__ import annotations

import json
import time
from email.utils import formatdate

import aiohttp
import orjson
import pytest

from smallfirst.backends.errors import (
    ErrorContext,
    anthropic_event_error,
    is_context_overflow,
    llama_error,
    message_error,
    parse_retry_after,
)
from smallfirst.core.errors import (
    ContextWindowExceededError,
    StreamInterruptedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

CTX = ErrorContext("openai:gpt-x", "http://127.0.0.1:9/v1", 7.0, "MY_KEY", "start the server", ("sk-live-SECRET123",))


def body(obj: object) -> bytes:
    return json.dumps(obj).encode()


# Real phrasings of "the prompt does not fit", one per vendor.
CONTEXT_BODIES = [
    (400, {"error": {"message": "This model's maximum context length is 8192 tokens. However, your messages "
                                "resulted in 9000 tokens.", "type": "invalid_request_error", "param": "messages",
                     "code": "context_length_exceeded"}}),  # OpenAI / llama-cpp-python server
    (400, {"error": {"message": "This model's maximum context length is 4096 tokens. However, you requested "
                                "5000 tokens (4000 in the messages, 1000 in the completion).",
                     "type": "BadRequestError", "param": None, "code": 400}}),  # vLLM
    (400, {"error": {"code": 400, "message": "the request exceeds the available context size, try increasing "
                                             "it", "type": "exceed_context_size_error"}}),  # llama.cpp server
    (400, {"error": "the input length exceeds the context length"}),  # Ollama
    (400, {"type": "error", "error": {"type": "invalid_request_error",
                                      "message": "prompt is too long: 201234 tokens > 200000 maximum"}}),  # Anthropic
    (400, [{"error": {"code": 400, "message": "The input token count (1200000) exceeds the maximum number of "
                                              "tokens allowed (1048576).", "status": "INVALID_ARGUMENT"}}]),  # Gemini
]


@pytest.mark.parametrize(("status", "payload"), CONTEXT_BODIES)
def test_context_overflow_is_detected_for_every_vendor(status: int, payload: object) -> None:
    err = CTX.from_status(status, body(payload))
    assert isinstance(err, ContextWindowExceededError)
    assert err.retryable and err.code == "context_length_exceeded"
    assert "larger context window" in err.hint


def test_plain_bad_request_is_not_a_context_error() -> None:
    err = CTX.from_status(400, body({"error": {"message": "Unrecognized request argument supplied: foo",
                                               "type": "invalid_request_error", "code": None}}))
    assert type(err) is UpstreamBadRequestError and not err.retryable
    assert "foo" in err.message and err.message.startswith("openai:gpt-x:")


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, UpstreamAuthError), (403, UpstreamAuthError), (408, UpstreamTimeoutError), (504, UpstreamTimeoutError),
     (502, UpstreamUnavailableError), (503, UpstreamUnavailableError), (529, UpstreamUnavailableError),
     (500, UpstreamError), (422, UpstreamBadRequestError), (404, UpstreamError)],
)
def test_status_mapping(status: int, kind: type[UpstreamError]) -> None:
    err = CTX.from_status(status, b"")
    assert type(err) is kind
    assert err.hint


def test_auth_hint_names_the_env_var_not_the_key() -> None:
    err = CTX.from_status(401, body({"error": {"message": "Incorrect API key provided: sk-live-SECRET123. You can "
                                                          "find your API key at …", "code": "invalid_api_key"}}))
    assert isinstance(err, UpstreamAuthError)
    assert "MY_KEY" in err.hint
    text = err.one_line() + json.dumps(err.to_openai())
    assert "SECRET123" not in text
    assert "***" in err.message


def test_keyish_strings_are_scrubbed_even_when_not_configured() -> None:
    err = CTX.from_status(401, body({"error": "bad key sk-proj-abcdefghijklmnop"}))
    assert "abcdefghijklmnop" not in err.message
    assert "sk-***" in err.message


def test_rate_limit_carries_retry_after() -> None:
    err = CTX.from_status(429, body({"error": {"message": "slow down", "code": "rate_limit_exceeded"}}),
                          {"Retry-After": "7"})
    assert isinstance(err, UpstreamRateLimitError)
    assert err.retry_after_s == 7.0 and "retry after 7 s" in err.hint


def test_quota_exhaustion_gets_its_own_hint() -> None:
    err = CTX.from_status(429, body({"error": {"message": "You exceeded your current quota", "code":
                                               "insufficient_quota"}}))
    assert isinstance(err, UpstreamRateLimitError) and "quota" in err.hint


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({}) is None
    assert parse_retry_after({"Retry-After": "soon"}) is None
    future = parse_retry_after({"Retry-After": formatdate(time.time() + 30, usegmt=True)})
    assert future is not None and 25 <= future <= 31


def test_non_json_body_is_kept_short() -> None:
    err = CTX.from_status(502, b"<html>" + b"x" * 5000 + b"</html>")
    assert isinstance(err, UpstreamUnavailableError)
    assert len(err.message) < 400


def test_transport_exceptions() -> None:
    assert isinstance(CTX.from_exception(TimeoutError()), UpstreamTimeoutError)
    timeout = CTX.from_exception(TimeoutError())
    assert "7 s" in timeout.message and "timeout_s" in timeout.hint
    down = CTX.from_exception(aiohttp.ServerDisconnectedError())
    assert isinstance(down, UpstreamUnavailableError) and down.hint == "start the server"
    assert isinstance(CTX.from_exception(ConnectionRefusedError()), UpstreamUnavailableError)
    assert isinstance(CTX.from_exception(aiohttp.ClientPayloadError("cut")), StreamInterruptedError)
    try:
        orjson.loads(b"{not json")
    except orjson.JSONDecodeError as exc:
        assert "not valid JSON" in CTX.from_exception(exc).message
    assert type(CTX.from_exception(RuntimeError("boom"))) is UpstreamError


def test_errors_after_streamed_chunks_become_stream_interrupted() -> None:
    err = CTX.from_exception(TimeoutError(), streamed=True)
    assert isinstance(err, StreamInterruptedError) and err.code == "upstream_stream_interrupted"


def test_anthropic_event_errors() -> None:
    assert isinstance(anthropic_event_error(CTX, {"type": "overloaded_error", "message": "Overloaded"}),
                      UpstreamUnavailableError)
    assert isinstance(anthropic_event_error(CTX, {"type": "rate_limit_error", "message": "x"}), UpstreamRateLimitError)
    assert isinstance(anthropic_event_error(CTX, {"type": "invalid_request_error",
                                                  "message": "prompt is too long: 9 tokens > 5 maximum"}),
                      ContextWindowExceededError)


def test_bare_messages_and_llama_exceptions() -> None:
    assert isinstance(message_error(CTX, "model 'x' not found, try pulling it first"), UpstreamError)
    assert isinstance(message_error(CTX, "input length exceeds the context length"), ContextWindowExceededError)
    overflow = llama_error(CTX, ValueError("Requested tokens (600) exceed context window of 512"))
    assert isinstance(overflow, ContextWindowExceededError)
    assert isinstance(llama_error(CTX, ValueError("bad grammar")), UpstreamBadRequestError)
    assert type(llama_error(CTX, RuntimeError("oom"))) is UpstreamError


def test_context_phrases_do_not_fire_on_ordinary_text() -> None:
    assert not is_context_overflow("Invalid value for temperature")
    assert is_context_overflow("", "context_length_exceeded")


def test_context_repr_hides_secrets() -> None:
    assert "SECRET" not in repr(CTX)
