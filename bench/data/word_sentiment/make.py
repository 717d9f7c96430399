"""Build ``words.jsonl``: a balanced word-sentiment classification set from the VADER lexicon.

Source: ``vaderSentiment/vader_lexicon.txt`` from the ``vaderSentiment`` 3.3.2 wheel on PyPI
(C.J. Hutto, MIT licence — see LICENSE.txt beside this file). Each lexicon line is
``token<TAB>mean rating<TAB>std<TAB>[10 human ratings in -4..4]``.

Kept: lower-case alphabetic words of 3+ letters whose raters agree (std ≤ 1.0) and whose mean is
clearly signed (|mean| ≥ 1.5); label ``positive`` / ``negative``; then 200 of each, drawn with a
fixed seed. Run::

    pip download --no-deps -d /tmp/vader vaderSentiment==3.3.2
    python -m zipfile -e /tmp/vader/vaderSentiment-3.3.2-py2.py3-none-any.whl /tmp/vader/x
    python bench/data/word_sentiment/make.py /tmp/vader/x/vaderSentiment/vader_lexicon.txt
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

PER_LABEL = 200
SEED = 20261127


def main(lexicon: str) -> None:
    pools: dict[str, list[tuple[str, float]]] = {"positive": [], "negative": []}
    for line in Path(lexicon).read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        word, mean, std = parts[0], float(parts[1]), float(parts[2])
        if not (word.isalpha() and word.islower() and len(word) >= 3) or std > 1.0 or abs(mean) < 1.5:
            continue
        pools["positive" if mean > 0 else "negative"].append((word, mean))
    rng = random.Random(SEED)
    rows = []
    for label, pool in pools.items():
        for word, mean in rng.sample(sorted(pool), PER_LABEL):
            rows.append({"id": f"vader-{word}", "word": word, "label": label, "vader_mean": mean})
    rng.shuffle(rows)
    out = Path(__file__).with_name("words.jsonl")
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} rows → {out} (pool sizes: " + ", ".join(f"{k} {len(v)}" for k, v in pools.items()) + ")")


if __name__ == "__main__":
    main(sys.argv[1])
