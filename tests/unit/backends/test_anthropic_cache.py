"""Prompt caching through the Anthropic translation: cache_control out, cache tokens in, both directions."""

from __future__ import annotations

import json
from typing import Any

from smallfirst.backends.anthropic_map import StreamTranslator, from_anthropic, to_anthropic, usage_of
from smallfirst.core.types import ChatResponse, Usage
from smallfirst.wire import anthropic_render as render
from smallfirst.wire.anthropic_parse import to_openai
from smallfirst.wire.openai_parse import to_request

CC = {"type": "ephemeral"}
CC1H = {"type": "ephemeral", "ttl": "1h"}
TOOL = {"name": "lookup", "description": "Look up.", "input_schema": {"type": "object", "properties": {}}}


def anthropic_body(openai_body: dict[str, Any]) -> dict[str, Any]:
    req = to_request(openai_body)
    return to_anthropic(req, "claude-x", stream=False, default_max_tokens=64)[0]


def test_every_cache_breakpoint_survives_the_round_trip() -> None:
    """Anthropic client → internal OpenAI shape → Anthropic backend: each cache_control where it was."""
    client: dict[str, Any] = {
        "model": "claude-x", "max_tokens": 64, "cache_control": CC,
        "system": [{"type": "text", "text": "Long rules.", "cache_control": CC1H}, {"type": "text", "text": "Tail."}],
        "tools": [{**TOOL, "cache_control": CC}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Big document.", "cache_control": CC},
                                         {"type": "text", "text": "Question?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Looking.", "cache_control": CC},
                                              {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {},
                                               "cache_control": CC}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "found",
                                          "cache_control": CC}]},
        ],
    }
    out = anthropic_body(to_openai(client))
    assert out["cache_control"] == CC
    assert out["system"] == [{"type": "text", "text": "Long rules.", "cache_control": CC1H},
                             {"type": "text", "text": "Tail."}]
    assert out["tools"] == [{**TOOL, "cache_control": CC}]
    assert out["messages"] == client["messages"]


def test_plain_requests_are_unchanged() -> None:
    out = anthropic_body({"model": "m", "messages": [{"role": "system", "content": "S"},
                                                     {"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
    assert out["system"] == "S" and out["messages"] == [{"role": "user", "content": "hi"}]
    assert "cache_control" not in out


def test_usage_reads_and_writes() -> None:
    u = usage_of({"input_tokens": 100, "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 1000,
                  "cache_creation": {"ephemeral_5m_input_tokens": 600, "ephemeral_1h_input_tokens": 400},
                  "output_tokens": 50})
    assert u == Usage(3100, 50, cache_read_tokens=2000, cache_write_tokens=1000, cache_write_1h_tokens=400)
    resp = from_anthropic({"content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
                           "usage": {"input_tokens": 3, "cache_read_input_tokens": 7, "output_tokens": 1}}, None)
    assert resp.usage == Usage(10, 1, cache_read_tokens=7)


def test_streamed_usage_keeps_the_cache_counts() -> None:
    t = StreamTranslator(None)
    t.feed({"type": "message_start", "message": {"usage": {"input_tokens": 5, "cache_creation_input_tokens": 900,
                                                           "cache_read_input_tokens": 0, "output_tokens": 1}}})
    t.feed({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    t.feed({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}})
    last = t.feed({"type": "message_stop"})
    assert last is not None and last.usage == Usage(905, 4, cache_write_tokens=900)


def test_anthropic_clients_get_cache_tokens_back() -> None:
    u = Usage(3100, 50, cache_read_tokens=2000, cache_write_tokens=1000, cache_write_1h_tokens=400)
    assert render.usage(u) == {"input_tokens": 100, "output_tokens": 50, "cache_creation_input_tokens": 1000,
                               "cache_read_input_tokens": 2000, "cache_creation": {
                                   "ephemeral_5m_input_tokens": 600, "ephemeral_1h_input_tokens": 400}}
    msg = json.loads(render.message(ChatResponse("m", {"role": "assistant", "content": "x"}, "stop", u), "req-1", "m"))
    assert msg["usage"]["cache_read_input_tokens"] == 2000 and msg["usage"]["input_tokens"] == 100
    frames = render.MessageFrames("req-1", "m", 0)
    tail = frames.tail(u).decode()
    delta = next(json.loads(line[6:]) for line in tail.splitlines() if '"message_delta"' in line)
    assert delta["usage"] == {"input_tokens": 100, "output_tokens": 50, "cache_creation_input_tokens": 1000,
                              "cache_read_input_tokens": 2000}
