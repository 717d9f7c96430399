"""The embeddings wire format: what a body may hold, and the answer's two encodings."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import orjson
import pytest

from smallfirst.core.errors import BadRequestError
from smallfirst.embeddings.types import Embedded
from smallfirst.wire.openai_embeddings import MAX_INPUTS, as_chat, parse, render


def test_string_and_list_inputs() -> None:
    one = parse({"model": "m", "input": "hello"})
    many = parse({"model": "m", "input": ["a", "b"], "encoding_format": "base64", "dimensions": 8, "user": "u"})
    assert one.inputs == ("hello",) and one.encoding_format == "float" and one.dimensions is None
    assert many.inputs == ("a", "b") and many.encoding_format == "base64" and many.dimensions == 8
    assert many.user == "u"


def test_only_smallfirst_headers_are_kept_and_the_chat_view_reserves_no_output() -> None:
    req = parse({"model": "m", "input": ["x", "y"]},
                [(b"x-smallfirst-residency", b"local"), (b"authorization", b"Bearer sf-secret")], "key1")
    assert dict(req.headers) == {"x-smallfirst-residency": "local"} and req.api_key_id == "key1"
    chat = as_chat(req)
    assert [m["content"] for m in chat.messages] == ["x", "y"] and chat.max_tokens == 1
    assert chat.headers == req.headers and chat.api_key_id == "key1" and chat.text() == "x\ny"


@pytest.mark.parametrize(("body", "param"), [
    ({"input": "x"}, "model"),
    ({"model": "", "input": "x"}, "model"),
    ({"model": "m"}, "input"),
    ({"model": "m", "input": []}, "input"),
    ({"model": "m", "input": ""}, "input"),
    ({"model": "m", "input": ["ok", ""]}, "input[1]"),
    ({"model": "m", "input": ["ok", 3.5]}, "input[1]"),
    ({"model": "m", "input": [1, 2, 3]}, "input[0]"),
    ({"model": "m", "input": [[1, 2], [3]]}, "input[0]"),
    ({"model": "m", "input": {"text": "x"}}, "input"),
    ({"model": "m", "input": ["x"] * (MAX_INPUTS + 1)}, "input"),
    ({"model": "m", "input": "x", "encoding_format": "int8"}, "encoding_format"),
    ({"model": "m", "input": "x", "dimensions": 0}, "dimensions"),
    ({"model": "m", "input": "x", "dimensions": "8"}, "dimensions"),
    ({"model": "m", "input": "x", "dimensions": True}, "dimensions"),
    ({"model": "m", "input": "x", "user": 1}, "user"),
    ({"model": "m", "input": "x", "dimension": 8}, "dimension"),
])
def test_bad_bodies_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequestError) as info:
        parse(body)
    assert info.value.param == param and info.value.status == 400


def test_token_ids_are_refused_with_a_hint() -> None:
    with pytest.raises(BadRequestError) as info:
        parse({"model": "m", "input": [[101, 102]]})
    assert "token ids" in info.value.message and "text" in info.value.hint


def test_render_float_and_base64_carry_the_same_vectors() -> None:
    vectors = np.array([[0.6, 0.8, 0.0], [0.0, -1.0, 0.0]], dtype=np.float32)
    out = Embedded(vectors, 7, "mini")
    floats = orjson.loads(render(out, "float"))
    packed = orjson.loads(render(out, "base64"))
    assert floats["object"] == "list" and floats["model"] == "mini"
    assert floats["usage"] == {"prompt_tokens": 7, "total_tokens": 7}
    assert [d["index"] for d in floats["data"]] == [0, 1] and {d["object"] for d in floats["data"]} == {"embedding"}
    assert np.allclose([d["embedding"] for d in floats["data"]], vectors)
    decoded = [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in packed["data"]]
    assert np.array_equal(np.stack(decoded), vectors)
