"""count_tokens: the body is a Messages request without max_tokens; which endpoint counts; the estimate."""

from __future__ import annotations

import pytest

from smallfirst.backends.fake import FakeBackend
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.errors import BadRequestError, ModelNotFoundError
from smallfirst.core.tiers import Endpoint, Tier
from smallfirst.core.types import FREE
from smallfirst.server.count_tokens import endpoint_for, estimate, to_chat_request


def tier(name: str, model: str) -> Tier:
    backend = FakeBackend(EndpointConfig(backend="fake", model=model, name=f"{name}-ep"))
    return Tier(name, [Endpoint(backend, FREE, True, "local")])


TIERS = [tier("local", "small"), tier("frontier", "big")]


def test_endpoint_for_auto_tier_and_model() -> None:
    assert endpoint_for("smallfirst/auto", TIERS).backend.model == "small"
    assert endpoint_for("smallfirst/frontier", TIERS).backend.model == "big"
    assert endpoint_for("big", TIERS).backend.name == "frontier-ep"
    assert endpoint_for("local-ep", TIERS).backend.model == "small"
    with pytest.raises(ModelNotFoundError) as err:
        endpoint_for("gpt-4o", TIERS)
    assert "smallfirst/auto" in err.value.hint


def test_body_needs_no_max_tokens_and_refuses_stream() -> None:
    req = to_chat_request({"model": "m", "system": "Be brief.", "messages": [{"role": "user", "content": "hi"}]})
    assert [m["role"] for m in req.messages] == ["system", "user"]
    with pytest.raises(BadRequestError):
        to_chat_request({"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    with pytest.raises(BadRequestError):
        to_chat_request({"model": "m", "messages": [{"role": "user", "content": "hi"}], "bogus": 1})


def test_estimate_counts_text_and_tools() -> None:
    plain = to_chat_request({"model": "m", "messages": [{"role": "user", "content": "x" * 40}]})
    tools = to_chat_request({"model": "m", "messages": [{"role": "user", "content": "x" * 40}], "tools": [
        {"name": "get_weather", "description": "Weather for a city", "input_schema": {"type": "object"}}]})
    assert estimate(plain) == 10 and estimate(tools) > estimate(plain)
