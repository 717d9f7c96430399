"""Anthropic clients send the gateway key as ``x-api-key``; ``Authorization`` wins when both are sent."""

from __future__ import annotations

from smallfirst.access.keys import bearer


def test_x_api_key_is_accepted() -> None:
    assert bearer([(b"x-api-key", b" sf-abc ")]) == b"sf-abc"
    assert bearer([(b"x-api-key", b"")]) is None


def test_authorization_header_wins() -> None:
    assert bearer([(b"x-api-key", b"sf-one"), (b"authorization", b"Bearer sf-two")]) == b"sf-two"
    assert bearer([(b"authorization", b"Basic xyz"), (b"x-api-key", b"sf-one")]) is None
