"""smallfirst.core.content: flattening, images, data URLs and cache_control removal."""

from __future__ import annotations

from typing import Any

from smallfirst.core.content import (
    DataUrl,
    data_url,
    first_image,
    flatten,
    image_url,
    last_cache_control,
    tools_without_cache_control,
    without_cache_control,
)

CC = {"type": "ephemeral"}


def test_flatten_every_content_shape() -> None:
    assert flatten("plain") == "plain"
    assert flatten(None) == ""
    assert flatten([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]) == "a\nb"
    assert flatten([{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                    {"type": "refusal", "refusal": "no"}], sep=" ") == "a no"
    assert flatten([]) == "" and flatten(5) == ""


def test_images_and_data_urls() -> None:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": "s"},
                                  {"role": "user", "content": [{"type": "text", "text": "t"},
                                                               {"type": "image_url", "image_url": "https://x/a.png"}]}]
    assert first_image(msgs) == "messages[1].content[1]"
    assert first_image(msgs[:1]) is None
    assert image_url(msgs[1]["content"][1]) == "https://x/a.png"
    assert image_url({"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}).startswith("data:")
    assert data_url("data:image/png;base64,iVBO") == DataUrl("image/png", "iVBO")
    assert data_url("data:image/jpeg;name=a.jpg;base64,/9j/") == DataUrl("image/jpeg", "/9j/")
    assert data_url("data:image/svg+xml,<svg/>") is None  # not base64
    assert data_url("https://x/a.png") is None


def test_cache_control_is_removed_without_copying_what_has_none() -> None:
    plain = {"role": "user", "content": "hi"}
    marked = {"role": "user", "content": [{"type": "text", "text": "doc", "cache_control": CC}]}
    call = {"role": "assistant", "content": None,
            "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"},
                            "cache_control": CC}]}
    msgs = [plain, marked, call]
    out = without_cache_control(msgs)
    assert out[0] is plain
    assert out[1] == {"role": "user", "content": [{"type": "text", "text": "doc"}]}
    assert out[2]["tool_calls"][0] == {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert marked["content"][0]["cache_control"] == CC  # the request itself is not changed
    assert without_cache_control([plain]) == [plain]
    tools = [{"type": "function", "function": {"name": "f"}, "cache_control": CC}]
    assert tools_without_cache_control(tools) == [{"type": "function", "function": {"name": "f"}}]
    assert last_cache_control(marked["content"]) == CC and last_cache_control("x") is None
