"""Reading an OpenAI-compatible embeddings answer (OpenAI, Ollama /v1, llama.cpp server, vLLM)."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from smallfirst.core.errors import UpstreamError
from smallfirst.embeddings.http import parse_answer


def test_rows_are_put_in_input_order_and_usage_is_read() -> None:
    data = {"object": "list", "model": "nomic-embed-text", "usage": {"prompt_tokens": 5, "total_tokens": 5},
            "data": [{"object": "embedding", "index": 1, "embedding": [0.0, 1.0]},
                     {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]}]}
    out = parse_answer(data, 2, "cfg-model", ["a", "b"], "ep")
    assert out.vectors.tolist() == [[1.0, 0.0], [0.0, 1.0]] and out.prompt_tokens == 5
    assert out.model == "nomic-embed-text" and out.vectors.dtype == np.float32


def test_base64_rows_and_a_missing_usage() -> None:
    row = base64.b64encode(np.array([0.5, -0.5], dtype="<f4").tobytes()).decode()
    out = parse_answer({"data": [{"index": 0, "embedding": row}]}, 1, "cfg-model", ["twelve chars"], "ep")
    assert out.vectors.tolist() == [[0.5, -0.5]]
    assert out.prompt_tokens == 3 and out.model == "cfg-model"  # about four characters a token


@pytest.mark.parametrize("data", [
    {"data": []},
    {"object": "list"},
    {"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]},
    {"data": [{"index": 0, "embedding": "not-a-vector"}, {"index": 1, "embedding": [1.0]}]},
    {"data": [{"index": 0, "embedding": []}, {"index": 1, "embedding": []}]},
    "nonsense",
])
def test_a_bad_shape_is_an_upstream_error_naming_the_endpoint(data: object) -> None:
    with pytest.raises(UpstreamError) as info:
        parse_answer(data, 2, "m", ["a", "b"], "ollama:nomic")
    assert "ollama:nomic" in info.value.message


def test_per_token_vectors_name_the_cause() -> None:
    data = {"data": [{"index": 0, "embedding": [[0.1, 0.2], [0.3, 0.4]]}]}  # llama.cpp without pooling
    with pytest.raises(UpstreamError) as info:
        parse_answer(data, 1, "smol", ["hello world"], "llamacpp:smol")
    assert "one vector per token" in info.value.message and "pooling" in info.value.hint
