"""The host's response store: found by id for the key that made it, until it expires; the adapter's use of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from smallfirst.config.loader import parse
from smallfirst.core.errors import BadRequestError
from smallfirst.core.types import ChatResponse, Decision, Usage
from smallfirst.request import RequestContext
from smallfirst.wire import openai_responses
from smallfirst.wire.openai_responses import OpenAIResponses
from smallfirst.wire.responses_store import ResponseStore

CONV = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]


def test_found_by_id_and_key_until_it_expires(tmp_path: Path) -> None:
    now = [1_000.0]
    store = ResponseStore(str(tmp_path / "log.db"), ttl_s=60, clock=lambda: now[0])
    store.put("resp_a", "k1", "m", CONV)
    store.put("resp_b", None, "m", CONV[:1])
    assert store.get("resp_a", "k1") == CONV and store.get("resp_b", None) == CONV[:1]
    assert store.get("resp_a", "k2") is None and store.get("resp_a", None) is None  # another key's response
    assert store.get("resp_missing", "k1") is None
    now[0] += 61
    assert store.get("resp_a", "k1") is None  # expired
    store.put("resp_c", "k1", "m", CONV)  # writing purges what expired
    assert store.count() == 1
    store.close()


def test_reopened_file_keeps_rows(tmp_path: Path) -> None:
    path = str(tmp_path / "log.db")
    first = ResponseStore(path, ttl_s=60)
    first.put("resp_a", "k1", "m", CONV)
    first.close()
    again = ResponseStore(path, ttl_s=60)
    assert again.get("resp_a", "k1") == CONV
    again.close()


def test_adapter_keeps_the_conversation_without_instructions(tmp_path: Path) -> None:
    wire = openai_responses.build(parse({"log": {"path": str(tmp_path / "log.db")}, "responses": {"store": True}}))
    assert wire.store is not None
    req = wire.request({"model": "m", "input": "hi", "instructions": "Be brief."}, [], "k1")
    ctx = RequestContext(request_id="req-abc", api_key_id="k1", request=req)
    resp = ChatResponse("m", {"role": "assistant", "content": "hello"}, "stop", Usage(2, 1))
    body, _ = wire.answer(resp, ctx, Decision("local", "m", "e", "", (), (), 0.0))
    assert b'"store":true' in body and b'"id":"resp_abc"' in body
    assert wire.store.get("resp_abc", "k1") == CONV
    follow = wire.request({"model": "m", "input": "again", "instructions": "New rules.",
                           "previous_response_id": "resp_abc"}, [], "k1")
    assert follow.messages == [{"role": "system", "content": "New rules."}, *CONV,
                               {"role": "user", "content": "again"}]
    with pytest.raises(BadRequestError) as info:
        wire.request({"model": "m", "input": "x", "previous_response_id": "resp_abc"}, [], "k2")
    assert info.value.param == "previous_response_id" and "whole conversation" in info.value.hint
    not_kept = wire.request({"model": "m", "input": "x", "store": False}, [], "k1")
    assert isinstance(not_kept, openai_responses.ResponsesRequest) and not_kept.turn is not None
    assert not_kept.turn.history is None and not_kept.turn.echo["store"] is False
    wire.close()


def test_without_a_store_nothing_is_kept() -> None:
    wire = OpenAIResponses()
    req = wire.request({"model": "m", "input": "hi"}, [], None)
    ctx = RequestContext(request_id="req-abc", request=req)
    body, _ = wire.answer(ChatResponse("m", {"role": "assistant", "content": "x"}, "stop", Usage(1, 1)), ctx,
                          Decision("local", "m", "e", "", (), (), 0.0))
    assert b'"store":false' in body
