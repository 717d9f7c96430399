"""literal_union: the same match positions as a flat alternation; first_at: the flat alternation's tie rule."""

from __future__ import annotations

import random
import re

import pytest

from smallfirst.signals import patterns as P
from smallfirst.signals.literals import first_at, literal_union

WORDS = ("ab", "abc", "b", "x.y", "c++", "a b", "bca", "tl;dr")


def _starts(rx: re.Pattern[str], text: str) -> list[int]:
    return [i for i in range(len(text) + 1) if rx.match(text, i)]


def test_match_positions_equal_flat_alternation() -> None:
    rng = random.Random(7)
    flat = re.compile("|".join(map(re.escape, WORDS)))
    trie = literal_union(WORDS)
    for _ in range(400):
        text = "".join(rng.choice("abcxy.+ ;tldr") for _ in range(rng.randint(0, 30)))
        assert _starts(trie, text) == _starts(flat, text)
        hit, ref = trie.search(text), flat.search(text)
        assert (hit is None) == (ref is None)
        if hit is not None and ref is not None:
            assert hit.start() == ref.start()
            assert first_at(text, hit.start(), WORDS) == ref.group()


def test_empty_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        literal_union([])
    with pytest.raises(ValueError):
        literal_union(["a", ""])


def test_any_phrase_covers_every_family() -> None:
    for phrase in (*P.CODE_PHRASES, *P.INSTRUCTION_PHRASE_ORDER, *P.MATH_PHRASES, *P.REASONING_PHRASES,
                   *P.REASONING_MORE, *P.KNOWLEDGE_PHRASES):
        text = f"zz {phrase} zz"
        assert P.ANY_PHRASE_RX.search(text) is not None, phrase
