"""Content parts in /v1/chat/completions bodies: what is accepted, and 400s that name the part."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.core.errors import BadRequestError
from smallfirst.wire.openai_parse import to_request

PNG = "data:image/png;base64,iVBORw0KGgo="


def body(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"model": "smallfirst/auto", "messages": list(messages)}


def test_every_valid_shape_is_accepted() -> None:
    req = to_request(body(
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
                                     {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "42"}]},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't."}]},
        {"role": "user", "content": [{"type": "image_url", "image_url": "https://x.test/b.png"}]},
    ))
    assert req.messages[5]["content"][0]["image_url"] == {"url": "https://x.test/b.png"}  # a bare URL: normalised


@pytest.mark.parametrize(("message", "param", "says"), [
    ({"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]},
     "messages[0].content[0].type", "'input_audio' is not supported"),
    ({"role": "user", "content": [{"type": "video", "url": "x"}]}, "messages[0].content[0].type", "'video'"),
    ({"role": "system", "content": [{"type": "image_url", "image_url": {"url": PNG}}]},
     "messages[0].content[0].type", "a system message cannot carry 'image_url' parts"),
    ({"role": "tool", "tool_call_id": "c", "content": [{"type": "image_url", "image_url": {"url": PNG}}]},
     "messages[0].content[0].type", "a tool message cannot carry"),
    ({"role": "user", "content": [{"type": "image_url"}]}, "messages[0].content[0].image_url", "non-empty 'url'"),
    ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/a.png"}}]},
     "messages[0].content[0].image_url.url", "http(s) URL or a base64 data: URL"),
    ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/svg+xml,<svg/>"}}]},
     "messages[0].content[0].image_url.url", "not base64"),
    ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:text/plain;base64,aGk="}}]},
     "messages[0].content[0].image_url.url", "not an image"),
    ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG, "detail": "max"}}]},
     "messages[0].content[0].image_url.detail", "detail must be one of"),
    ({"role": "assistant", "content": [{"type": "refusal"}]}, "messages[0].content[0].refusal", "string"),
    ({"role": "user", "content": None}, "messages[0].content", "is required"),
])
def test_bad_parts_name_the_part(message: dict[str, Any], param: str, says: str) -> None:
    with pytest.raises(BadRequestError) as ei:
        to_request(body(message))
    assert ei.value.param == param and says in ei.value.message and ei.value.status == 400
    assert ei.value.hint
