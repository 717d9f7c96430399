"""What a cached answer is keyed on, and what a request asks of the cache.

The **exact key** hashes the request as the model sees it: the route (``model`` after aliases), the
messages, and every other body field — tools, tool_choice, response_format, temperature, top_p, seed,
max_tokens, stop, n, logprobs, penalties, and any option this module does not know (an unknown field
might change the answer, so it splits the key). Only fields that cannot change the answer are left out
(:data:`NOT_ANSWER`: stream, stream_options, metadata, user, store). Object keys are sorted, so two
bodies that differ only in key order share an entry; text is not otherwise rewritten.

The **contract key** (semantic cache) is the same hash with the last user message's text taken out
and that text's *pivots* put in: two requests may share a semantically matched answer only when
everything else — system prompt, earlier turns, tools, schema, sampling parameters, route — is
identical, and when the words that flip an answer while barely moving an embedding are the same:
the numbers (digits and number words, in order), the negations, and lettered answer choices
("A. …", "b) …": their texts in order, case and spacing aside). "Tom has 3 apples" and "Tom has 4
apples" embed within 0.99 of each other, as does a multiple-choice question with two options swapped
(another right letter); they never share a contract. Nor do requests whose *content words* differ:
the words of the text, lower-cased, without punctuation, contractions and a short list of filler
words (:data:`FILLER`: articles, "please", "question", "can you" …) — in order with
``semantic_guard = "words"`` (the default), as a bag with ``"bag"``, not at all with ``"none"``. One-word
opposites ("per day" / "per week", "largest" / "smallest") and swapped names ("Ann is older than Bob")
embed at 0.99 and above, like true paraphrases, so the similarity alone cannot keep them apart
(bench/cache.py). With the default a semantic hit is a request that says the same words, re-cased,
re-spaced, re-punctuated, contracted or framed differently; synonyms are a miss, not a risk.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Literal

import orjson

from smallfirst.core.errors import BadRequestError
from smallfirst.core.text import content_text
from smallfirst.core.types import ChatRequest

NOT_ANSWER = frozenset({"stream", "stream_options", "metadata", "user", "store", "messages", "model"})
Guard = Literal["words", "bag", "none"]
Mode = Literal["use", "refresh", "off"]  # look up and store; store only; neither
OVERRIDES: dict[str, Mode] = {"on": "use", "use": "use", "refresh": "refresh", "off": "off"}
ANONYMOUS = "-"
_NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                 "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred "
                 "thousand million billion half twice double triple quarter dozen first second third")
_NEGATIONS = "not no never none nothing neither nor without except cannot false"
_FILLER_WORDS = ("a an the please kindly question answer this is are am be can could would you me i tell help hi hello "
                 "hey thanks thank just so ok okay quick quickly following s")
FILLER = frozenset(_FILLER_WORDS.split())
_WORD = re.compile(r"[a-z0-9]+")
_CHOICE = re.compile(r"^[ \t]*\(?[a-h][.)][ \t]+(.+?)[ \t]*$", re.M)
_PIVOT = re.compile(r"\d+(?:[.,]\d+)*|\b(?:" + "|".join(_NUMBER_WORDS.split() + _NEGATIONS.split()) + r")\b")


def _digest(obj: Any) -> str:
    return hashlib.blake2b(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS), digest_size=20).hexdigest()


def _options(request: ChatRequest) -> dict[str, Any]:
    return {k: v for k, v in request.body.items() if k not in NOT_ANSWER}


def exact_key(request: ChatRequest) -> str:
    return _digest([request.model, request.messages, _options(request)])


def query_text(request: ChatRequest) -> str | None:
    """The last user message's text (what the semantic cache compares), or None when the request does not
    end with a user message that has text."""
    if not request.messages:
        return None
    last = request.messages[-1]
    if last.get("role") != "user":
        return None
    text = content_text(last.get("content")).strip()
    return text or None


def pivots(text: str) -> list[str]:
    """The numbers, negations and lettered choices of ``text``, in order (``n't`` counts as ``not``)."""
    low = text.lower()
    choices = [" ".join(m.group(1).split()).rstrip(".;,") for m in _CHOICE.finditer(low)]
    return [*_PIVOT.findall(low.replace("n't", " not").replace("n’t", " not")), *choices]


def content_words(text: str) -> list[str]:
    """``text``'s words without filler, in order (``n't`` counts as ``not``)."""
    low = text.lower().replace("n't", " not").replace("n’t", " not").replace("’", "'")
    return [w for w in _WORD.findall(low) if w not in FILLER]


def contract_key(request: ChatRequest, text: str, guard: Guard = "words") -> str:
    """Everything but the last user message's text, plus that text's pivots and content words (see the module
    docstring)."""
    last = dict(request.messages[-1])
    content = last.get("content")
    if isinstance(content, list):  # keep non-text parts (images) in the contract
        last["content"] = [p for p in content if not (isinstance(p, Mapping) and p.get("type") == "text")]
    else:
        last["content"] = None
    words = content_words(text) if guard != "none" else None
    return _digest([request.model, request.messages[:-1], last, _options(request), pivots(text),
                    sorted(words) if words is not None and guard == "bag" else words])


def mode_of(request: ChatRequest) -> tuple[Mode, str]:
    """What the request allows: ``Cache-Control`` (no-store: neither look up nor store; no-cache: do not look
    up, store the fresh answer), then ``metadata.smallfirst_cache`` (off, refresh, on). The stricter wins."""
    mode: Mode = "use"
    why = ""
    directives = {d.strip().lower() for d in request.headers.get("cache-control", "").split(",")}
    if "no-store" in directives:
        return "off", "Cache-Control: no-store"
    if "no-cache" in directives:
        mode, why = "refresh", "Cache-Control: no-cache"
    raw = request.metadata.get("smallfirst_cache") if isinstance(request.metadata, Mapping) else None
    if raw is not None:
        asked = OVERRIDES.get(raw) if isinstance(raw, str) else None
        if asked is None:
            raise BadRequestError(f"metadata.smallfirst_cache must be one of off, refresh, on, not {raw!r}",
                                  param="metadata.smallfirst_cache",
                                  hint="off: neither read nor write the cache; refresh: skip the lookup and "
                                       "store the fresh answer")
        if asked == "off":
            return "off", "metadata.smallfirst_cache = off"
        if asked == "refresh":
            mode, why = "refresh", "metadata.smallfirst_cache = refresh"
    return mode, why


def sampled(request: ChatRequest) -> bool:
    """Does a repeat of this request expect a different answer (temperature > 0, or n > 1)?"""
    t = request.temperature if request.temperature is not None else request.body.get("temperature")
    n = request.body.get("n")
    return (isinstance(t, (int, float)) and t > 0) or (isinstance(n, int) and n > 1)
