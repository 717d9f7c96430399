"""Gateway API keys: ``sf-`` + 256 random bits; only their SHA-256 is ever stored.

A key has a public id (``key_…``, safe to log) and limits: USD budgets per UTC day and month,
requests and tokens per minute, and the tiers it may use. A plain SHA-256 (no salt, no slow
hash) is right here: the key is 256 bits of randomness, so it cannot be guessed from its hash,
and the gateway must look keys up in O(1) on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

KEY_PREFIX = "sf-"
_SHOWN = 10  # characters of the key kept for listings ("sf-AbCdEfG")


@dataclass(frozen=True, slots=True)
class Limits:
    budget_day_usd: float | None = None
    budget_month_usd: float | None = None
    rpm: int | None = None  # requests per minute
    tpm: int | None = None  # tokens (prompt + completion) per minute
    tiers: tuple[str, ...] | None = None  # None: every tier

    def describe(self) -> str:
        parts = []
        if self.budget_day_usd is not None:
            parts.append(f"${self.budget_day_usd:g}/day")
        if self.budget_month_usd is not None:
            parts.append(f"${self.budget_month_usd:g}/month")
        if self.rpm is not None:
            parts.append(f"{self.rpm} req/min")
        if self.tpm is not None:
            parts.append(f"{self.tpm} tok/min")
        if self.tiers is not None:
            parts.append("tiers " + ",".join(self.tiers))
        return ", ".join(parts) or "unlimited"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    name: str
    prefix: str
    created: float
    revoked: float | None
    limits: Limits

    @property
    def label(self) -> str:
        return f"{self.id} ({self.name})" if self.name else self.id


def new_key() -> tuple[str, str, str]:
    """(key, key id, sha256 hex of the key). The key is shown once and never stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, "key_" + secrets.token_hex(6), hash_key(key)


def hash_key(key: str | bytes) -> str:
    return hashlib.sha256(key.encode() if isinstance(key, str) else key).hexdigest()


def shown_prefix(key: str) -> str:
    return key[:_SHOWN]


def bearer(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """The token of ``Authorization: Bearer <token>`` in raw ASGI headers, else of ``x-api-key: <token>``
    (what Anthropic clients send), or None."""
    api_key = None
    for k, v in headers:
        if k == b"authorization":
            scheme, _, token = v.partition(b" ")
            token = token.strip()
            return token if scheme.lower() == b"bearer" and token else None
        if k == b"x-api-key":
            api_key = v.strip() or None
    return api_key
