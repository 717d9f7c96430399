"""OpenAI-shaped requests → Ollama /api/chat bodies, and /api/show facts (pure parts)."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.backends.ollama import DEFAULT_NUM_CTX, OllamaBackend, _show_facts, to_ollama_messages
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.errors import UpstreamBadRequestError
from smallfirst.core.types import ChatRequest


def backend(**kw: Any) -> OllamaBackend:
    return OllamaBackend(EndpointConfig(backend="ollama_native", model="llama3.2", **kw))


def req(messages: list[dict[str, Any]], **body: Any) -> ChatRequest:
    return ChatRequest(model="m", messages=messages, body={"messages": messages, **body},
                       max_tokens=body.get("max_tokens"), temperature=body.get("temperature"),
                       response_format=body.get("response_format"), tools=body.get("tools"),
                       logprobs=bool(body.get("logprobs")))


def test_messages_images_and_tools() -> None:
    out = to_ollama_messages([
        {"role": "developer", "content": "be terse"},
        {"role": "user", "content": [{"type": "text", "text": "what is "}, {"type": "text", "text": "this"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_7", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}]},
        {"role": "tool", "tool_call_id": "call_7", "content": "found"},
    ])
    assert out[0] == {"role": "system", "content": "be terse"}
    assert out[1] == {"role": "user", "content": "what is \nthis", "images": ["AAAA"]}  # text parts: one per line
    assert out[2]["tool_calls"] == [{"function": {"name": "lookup", "arguments": {"q": "x"}}}]
    assert out[3] == {"role": "tool", "content": "found", "tool_name": "lookup"}


def test_linked_images_are_refused_with_a_hint() -> None:
    with pytest.raises(UpstreamBadRequestError) as exc:
        to_ollama_messages([{"role": "user", "content": [{"type": "image_url",
                                                          "image_url": {"url": "https://x/y.png"}}]}])
    assert "base64" in exc.value.hint


def test_options_format_tools_logprobs() -> None:
    schema = {"type": "object", "properties": {"label": {"type": "string"}}}
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    body = backend(n_ctx=8192).payload(req(
        [{"role": "user", "content": "x"}], max_tokens=12, temperature=0.3, top_p=0.9, seed=7, stop="END",
        response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}},
        tools=tools, logprobs=True, top_logprobs=3), stream=True)
    assert body["model"] == "llama3.2" and body["stream"] is True
    assert body["options"] == {"temperature": 0.3, "top_p": 0.9, "seed": 7, "num_predict": 12, "stop": ["END"],
                               "num_ctx": 8192}
    assert body["format"] == schema
    assert body["tools"] == tools
    assert body["logprobs"] is True and body["top_logprobs"] == 3


def test_json_object_and_tool_choice_none() -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    body = backend().payload(req([{"role": "user", "content": "x"}], response_format={"type": "json_object"},
                                 tools=tools, tool_choice="none"), stream=False)
    assert body["format"] == "json" and "tools" not in body and "options" not in body and body["stream"] is False


def test_show_facts_prefers_num_ctx_capped_by_training() -> None:
    show = {"model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768},
            "parameters": "temperature 0.7\nnum_ctx 65536", "capabilities": ["completion"]}
    facts = _show_facts(show)
    assert facts == {"model_context_length": 32768, "context_window": 32768, "tools": False, "images": False}
    assert _show_facts({"model_info": {}})["context_window"] == DEFAULT_NUM_CTX


def test_capabilities_learned_but_config_wins() -> None:
    b = backend()
    b._learn({"context_window": 16384, "tools": False})
    assert b.capabilities.context_window == 16384 and not b.capabilities.tools
    pinned = backend(context_window=2048)
    pinned._learn({"context_window": 16384})
    assert pinned.capabilities.context_window == 2048
