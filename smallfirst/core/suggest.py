"""'Did you mean' for a misspelt name: tiers, commands, models, backends."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, options: Iterable[str], cutoff: float = 0.6) -> str:
    """``"did you mean 'local'?"`` for the closest of ``options``, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=cutoff)
    return f"did you mean {close[0]!r}?" if close else ""


def hint_for(words: Iterable[str], options: Iterable[str], known: str) -> str:
    """``"did you mean 'local'? configured: local, frontier"``: suggestions for each word, then ``known``."""
    opts = list(options)
    tips = [t for t in (did_you_mean(w, opts) for w in words) if t]
    return " ".join([*tips, known])
