"""/v1/completions translation (prompt → chat request) and rendering (text_completion, legacy logprobs);
system_fingerprint and several choices on chat completions; the unknown-route hint."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from smallfirst.core.errors import BadRequestError
from smallfirst.core.types import ChatChunk, ChatResponse, Usage
from smallfirst.server.models import route_not_found
from smallfirst.wire.completions_parse import to_chat_body
from smallfirst.wire.openai_completions import CompletionFrames, OpenAICompletions, completion, legacy_logprobs
from smallfirst.wire.openai_render import completion as chat_completion
from smallfirst.wire.openai_render import fingerprint

LP = {"content": [{"token": "Hi", "logprob": -0.1, "top_logprobs": [{"token": "Hi", "logprob": -0.1},
                                                                     {"token": "Hey", "logprob": -2.0}]},
                  {"token": "!", "logprob": -0.5, "top_logprobs": []}]}


def test_prompt_becomes_the_user_message_with_openais_default_max_tokens() -> None:
    req = OpenAICompletions().request({"model": "m", "prompt": ["Hello"], "stop": "\n", "logprobs": 2, "n": 2},
                                      [], None)
    assert req.messages == [{"role": "user", "content": "Hello"}] and req.max_tokens == 16
    assert req.body["stop"] == "\n" and req.body["top_logprobs"] == 2 and req.logprobs and req.body["n"] == 2
    assert "prompt" not in req.body
    assert to_chat_body({"model": "m", "prompt": "x", "max_tokens": 3, "echo": False, "best_of": 1})["max_tokens"] == 3


@pytest.mark.parametrize(("body", "param"), [
    ({"prompt": "a", "suffix": "z"}, "suffix"), ({"prompt": "a", "echo": True}, "echo"),
    ({"prompt": "a", "best_of": 2}, "best_of"), ({"prompt": ["a", "b"]}, "prompt"), ({"prompt": [[1, 2]]}, "prompt"),
    ({}, "prompt"), ({"prompt": "a", "logprobs": True}, "logprobs"), ({"prompt": "a", "tools": []}, "tools"),
])
def test_refusals_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequestError) as err:
        to_chat_body({"model": "m", **body})
    assert err.value.param == param


def test_legacy_logprobs_shape() -> None:
    out = legacy_logprobs(LP, 5)
    assert out == {"tokens": ["Hi", "!"], "token_logprobs": [-0.1, -0.5],
                   "top_logprobs": [{"Hi": -0.1, "Hey": -2.0}, {}], "text_offset": [5, 7]}
    assert legacy_logprobs(None, 0) is None


def test_text_completion_body_with_several_choices() -> None:
    resp = ChatResponse("m", {"role": "assistant", "content": "Hi!"}, "stop", Usage(3, 4), logprobs=LP,
                        extra_choices=({"index": 1, "message": {"role": "assistant", "content": "Yo"},
                                        "finish_reason": "length"},))
    body = orjson.loads(completion(resp, None, "req-abc", 1, "m"))
    assert body["object"] == "text_completion" and body["id"] == "cmpl-abc"
    assert [(c["index"], c["text"], c["finish_reason"]) for c in body["choices"]] == [(0, "Hi!", "stop"),
                                                                                      (1, "Yo", "length")]
    assert body["choices"][0]["logprobs"]["tokens"] == ["Hi", "!"] and body["choices"][1]["logprobs"] is None
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert body["system_fingerprint"] == fingerprint("m")


def test_stream_events() -> None:
    req = OpenAICompletions().request({"model": "m", "prompt": "abc", "stream": True,
                                       "stream_options": {"include_usage": True}}, [], None)
    frames = CompletionFrames(req, "req-1", 1, "m")
    assert frames.chunk(ChatChunk({"role": "assistant"})) == b""
    first = orjson.loads(frames.chunk(ChatChunk({"content": "Hi"}, logprobs=LP))[6:])
    assert first["choices"] == [{"text": "Hi", "index": 0, "finish_reason": None, "logprobs": {
        "tokens": ["Hi", "!"], "token_logprobs": [-0.1, -0.5], "top_logprobs": [{"Hi": -0.1, "Hey": -2.0}, {}],
        "text_offset": [3, 5]}}] and first["usage"] is None
    last = orjson.loads(frames.chunk(ChatChunk({}, finish_reason="tool_calls"))[6:])
    assert last["choices"][0]["finish_reason"] == "stop"
    tail = frames.tail(Usage(1, 2))
    assert tail.endswith(b"data: [DONE]\n\n") and b'"completion_tokens":2' in tail


def test_chat_completion_renders_every_choice_and_a_fingerprint() -> None:
    resp = ChatResponse("m", {"role": "assistant", "content": "a"}, "stop", Usage(1, 2), extra_choices=(
        {"index": 1, "message": {"role": "assistant", "content": "b"}, "finish_reason": "stop"},))
    body = orjson.loads(chat_completion(resp, "req-1", 1, "m"))
    assert [c["message"]["content"] for c in body["choices"]] == ["a", "b"]
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert body["system_fingerprint"] == fingerprint("m") != fingerprint("other")
    upstream = orjson.loads(chat_completion(ChatResponse("m", {"role": "assistant", "content": "a"}, "stop",
                                                         Usage(), system_fingerprint="fp_up"), "req-1", 1, "m"))
    assert upstream["system_fingerprint"] == "fp_up"


def test_unknown_route_hint_lists_routes() -> None:
    routes = [("POST", "/v1/chat/completions"), ("POST", "/v1/completions"), ("GET", "/v1/models"),
              ("GET", "/metrics")]
    err = route_not_found("POST", "/v1/chat/complete", routes)
    assert "did you mean /v1/chat/completions?" in err.hint and "POST /v1/completions" in err.hint
    assert "GET /v1/models/{id}" in err.hint and "GET /metrics" not in err.hint
    bare = route_not_found("POST", "/completions", routes)
    assert bare.hint.startswith("did you mean /v1/completions? (the API lives under /v1")
