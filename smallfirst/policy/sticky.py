"""Conversation stickiness: a turn that follows an escalated turn goes to a tier that can continue it.

A conversation is named by the client (``x-smallfirst-conversation`` header, or ``metadata`` key
``conversation_id`` / ``session_id`` / ``thread_id``) or, without a name, by its opening: the messages
before the first assistant turn plus that assistant turn's text (what the gateway answered), hashed —
two chats with the same first question but different answers are different conversations.

When a ``smallfirst/auto`` turn is answered by a tier above the lowest, the conversation remembers that
tier (for ``ttl_s``); its later turns start there, unless another policy (residency, the key) keeps the
request below it. Memory is per process and bounded (``max_conversations``, oldest dropped first): with
``serve --workers N`` a conversation is sticky within the worker that served it.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from smallfirst.core.protocols import Policy
from smallfirst.core.text import content_text
from smallfirst.core.types import AUTO_MODEL, ChatRequest, PolicyResult, Signals

HEADER = "x-smallfirst-conversation"
METADATA_KEYS = ("conversation_id", "session_id", "thread_id")


def _named(request: ChatRequest) -> str | None:
    name = request.headers.get(HEADER)
    if name:
        return "n:" + name
    meta = request.metadata
    for key in METADATA_KEYS:
        v = meta.get(key) if isinstance(meta, Mapping) else None
        if isinstance(v, str) and v:
            return "n:" + v
    return None


def _digest(opening: list[Any], answer: str) -> str:
    raw = orjson.dumps([[m.get("role"), content_text(m.get("content"))] for m in opening] + [answer])
    return "h:" + hashlib.blake2b(raw, digest_size=16).hexdigest()


def key_of(request: ChatRequest) -> str | None:
    """The conversation this turn belongs to (None: a first turn with no name)."""
    named = _named(request)
    if named is not None:
        return named
    msgs = request.messages
    first = next((i for i, m in enumerate(msgs) if m.get("role") == "assistant"), None)
    return None if first is None else _digest(msgs[:first], content_text(msgs[first].get("content")))


def key_after(request: ChatRequest, answer: str) -> str:
    """The conversation a just-answered turn starts or continues."""
    named = _named(request)
    if named is not None:
        return named
    msgs = request.messages
    first = next((i for i, m in enumerate(msgs) if m.get("role") == "assistant"), None)
    if first is None:
        return _digest(list(msgs), answer)
    return _digest(msgs[:first], content_text(msgs[first].get("content")))


class StickyPolicy(Policy):
    def __init__(self, tiers: Sequence[str], *, ttl_s: float = 3600.0, max_conversations: int = 10_000,
                 clock: Any = time.monotonic) -> None:
        self._rank = {t: i for i, t in enumerate(tiers)}
        self._tiers = list(tiers)
        self.ttl_s = ttl_s
        self.max_conversations = max_conversations
        self._clock = clock
        self._floor: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key → (tier rank, expiry)

    def check(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> PolicyResult:
        if request.model != AUTO_MODEL or not self._floor:
            return PolicyResult(allowed=tuple(tiers))
        key = key_of(request)
        got = self._floor.get(key) if key is not None else None
        if key is None or got is None:
            return PolicyResult(allowed=tuple(tiers))
        rank, expires = got
        if expires < self._clock():
            del self._floor[key]
            return PolicyResult(allowed=tuple(tiers))
        keep = tuple(t for t in tiers if self._rank.get(t, 0) >= rank)
        if not keep or len(keep) == len(tiers):
            return PolicyResult(allowed=tuple(tiers))
        return PolicyResult(allowed=keep, reasons=(
            f"sticky: this conversation was answered by {self._tiers[rank]} before",))

    def served(self, request: ChatRequest, tier: str, answer: str) -> None:
        rank = self._rank.get(tier, 0)
        if request.model != AUTO_MODEL or rank == 0:
            return
        key = key_after(request, answer)
        prev = self._floor.pop(key, None)
        self._floor[key] = (max(rank, prev[0] if prev else 0), self._clock() + self.ttl_s)
        while len(self._floor) > self.max_conversations:
            self._floor.popitem(last=False)
