"""What the OpenAI-compatible backend sends for each preset's dialect, and the cache tokens it reads back."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.backends.openai_compat import _usage, from_config
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.types import ChatRequest, Usage

CC = {"type": "ephemeral"}
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": [{"type": "text", "text": "Rules.", "cache_control": CC}]},
    {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    {"role": "user", "content": [{"type": "text", "text": "see"},
                                 {"type": "image_url", "image_url": {"url": "https://x/a.png"}}]},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}, "cache_control": CC}]},
]
TOOLS = [{"type": "function", "function": {"name": "f"}, "cache_control": CC}]


def payload(backend: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("K", "sk-test")
    b = from_config(EndpointConfig(backend=backend, model="m", base_url="http://127.0.0.1:9/v1", api_key_env="K"))
    body = {"model": "x", "messages": MESSAGES, "tools": TOOLS, "cache_control": CC}
    out: dict[str, Any] = b._payload(ChatRequest(model="x", messages=MESSAGES, body=body, tools=TOOLS),  # type: ignore[attr-defined]
                                     False)
    return out


def test_openai_gets_parts_without_cache_control(monkeypatch: pytest.MonkeyPatch) -> None:
    out = payload("openai", monkeypatch)
    assert "cache_control" not in out and out["tools"] == [{"type": "function", "function": {"name": "f"}}]
    assert out["messages"][0] == {"role": "system", "content": [{"type": "text", "text": "Rules."}]}
    assert out["messages"][1:3] == MESSAGES[1:3] and out["messages"][3]["content"] is None
    assert "cache_control" not in out["messages"][3]["tool_calls"][0]
    assert MESSAGES[0]["content"][0]["cache_control"] == CC  # the request is not changed


def test_openrouter_keeps_cache_control(monkeypatch: pytest.MonkeyPatch) -> None:
    out = payload("openrouter", monkeypatch)
    assert out["cache_control"] == CC and out["messages"] == MESSAGES and out["tools"] == TOOLS


def test_llama_cpp_python_server_gets_strings_but_keeps_images(monkeypatch: pytest.MonkeyPatch) -> None:
    out = payload("llamacpp", monkeypatch)
    assert [m["content"] for m in out["messages"]][:2] == ["Rules.", "a\nb"]
    assert out["messages"][2]["content"] == MESSAGES[2]["content"]  # for a vision chat handler
    assert out["messages"][3]["content"] == ""


def test_cache_tokens_read_from_every_dialect() -> None:
    assert _usage({"prompt_tokens": 3000, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 2048}}) \
        == Usage(3000, 9, cache_read_tokens=2048)
    assert _usage({"prompt_tokens": 900, "completion_tokens": 1, "prompt_tokens_details": {
        "cached_tokens": 0, "cache_write_tokens": 800}}) == Usage(900, 1, cache_write_tokens=800)  # OpenRouter
    assert _usage({"prompt_tokens": 50, "completion_tokens": 2, "prompt_cache_hit_tokens": 40,
                   "prompt_cache_miss_tokens": 10}) == Usage(50, 2, cache_read_tokens=40)  # DeepSeek
    assert _usage({"prompt_tokens": 5, "completion_tokens": 1, "prompt_tokens_details": None}) == Usage(5, 1)
