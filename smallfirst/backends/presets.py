"""Presets for OpenAI-compatible servers: default URL, key variable, capabilities.

A preset only supplies defaults; every field can be overridden in the endpoint config
(``base_url``, ``api_key_env``, ``context_window``). Where an endpoint is (on this host or not) is
decided from its effective URL by :mod:`smallfirst.config.location`, never from the preset.
"""

from __future__ import annotations

from dataclasses import dataclass

from smallfirst.core.types import Capabilities


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    base_url: str | None  # None: the endpoint config must give one
    api_key_env: str | None  # default env var holding the key; None: no key by default
    key_required: bool  # a request without a key is refused upstream
    capabilities: Capabilities
    start_hint: str  # how to get the server running (shown when it cannot be reached)
    # send json_schema response formats as {"type": "json_object", "schema": …}: the dialect both
    # llama.cpp's llama-server and llama-cpp-python's server accept (the latter rejects "json_schema")
    schema_as_json_object: bool = False


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "openai", "https://api.openai.com/v1", "OPENAI_API_KEY", True,
            Capabilities(context_window=128_000, json_schema=True, tools=True, named_tools=True, logprobs=True,
                         images=True, choices=True),
            "check https://status.openai.com and your network",
        ),
        Preset(
            "ollama", "http://127.0.0.1:11434/v1", None, False,
            Capabilities(context_window=4096, json_schema=True, tools=True, named_tools=True, logprobs=True),
            "start Ollama with `ollama serve` and pull the model with `ollama pull <model>`",
        ),
        Preset(
            "lmstudio", "http://127.0.0.1:1234/v1", None, False,
            Capabilities(context_window=4096, json_schema=True, tools=True, named_tools=True, logprobs=False),
            "start LM Studio's local server (Developer tab → Start Server, or `lms server start`)",
        ),
        Preset(
            "llamacpp", "http://127.0.0.1:8080/v1", None, False,
            Capabilities(context_window=4096, json_schema=True, tools=True, named_tools=True, logprobs=True),
            "start `llama-server -m model.gguf` or `python -m llama_cpp.server --model model.gguf`",
            schema_as_json_object=True,
        ),
        Preset(
            "vllm", "http://127.0.0.1:8000/v1", None, False,
            Capabilities(context_window=8192, json_schema=True, tools=True, named_tools=True, logprobs=True,
                         choices=True),
            "start `vllm serve <model>`",
        ),
        Preset(
            "openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", True,
            Capabilities(context_window=128_000, json_schema=True, tools=True, named_tools=True, logprobs=False,
                         images=True),
            "check https://status.openrouter.ai and your network",
        ),
        Preset(
            "gemini", "https://generativelanguage.googleapis.com/v1beta/openai", "GEMINI_API_KEY", True,
            Capabilities(context_window=1_048_576, json_schema=True, tools=True, named_tools=True, logprobs=False,
                         images=True),
            "check https://status.cloud.google.com and your network",
        ),
        Preset(
            "openai_compat", None, None, False,
            Capabilities(context_window=None, json_schema=True, tools=True, named_tools=True, logprobs=False),
            "check that the server at base_url is running and reachable",
        ),
    )
}


def preset(name: str) -> Preset:
    """The preset called ``name``; unknown names fall back to the generic ``openai_compat``."""
    return PRESETS.get(name, PRESETS["openai_compat"])
