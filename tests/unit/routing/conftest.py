"""Synthetic outcome data shared by the routing tests (deterministic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smallfirst.routing.outcomes import Outcome
from smallfirst.routing.routellm import find_data

EASY = ["Classify the sentiment of this review: {w} was lovely", "Translate into French: the {w} is red",
        "Extract the names from: {w} met Anna", "Summarise: the {w} council met today"]
HARD = ["Prove that the sum of {w} odd numbers is a square, step by step",
        "Solve the integral of x^{n} * log(x) and explain the {w} method",
        "Plan a multi-step strategy to analyse {w} trade-offs and justify it"]
WORDS = ["apple", "river", "garden", "engine", "violet", "marble", "copper", "forest", "harbor", "pepper"]


def synthetic_rows(n: int = 240, tiers: tuple[str, ...] = ("local", "frontier"), seed: int = 0) -> list[Outcome]:
    """Easy prompts: every tier is right 90% of the time. Hard prompts: tier t is right with
    probability 0.2 + 0.7 · t / (k - 1)."""
    rng = np.random.default_rng(seed)
    k = len(tiers)
    rows: list[Outcome] = []
    for i in range(n):
        hard = i % 2 == 1
        tpl = HARD[i % len(HARD)] if hard else EASY[i % len(EASY)]
        text = tpl.format(w=WORDS[i % len(WORDS)] + str(i), n=i % 7 + 2)
        for t, name in enumerate(tiers):
            p = (0.2 + 0.7 * t / max(k - 1, 1)) if hard else 0.9
            rows.append(Outcome(prompt_id=f"p{i:04d}", prompt=text, tier=name, score=float(rng.random() < p),
                                cost_usd=[0.0, 0.2, 1.0][t] if k == 3 else float(t),
                                dataset="hard" if hard else "easy"))
    return rows


@pytest.fixture
def rows2() -> list[Outcome]:
    return synthetic_rows()


@pytest.fixture
def rows3() -> list[Outcome]:
    return synthetic_rows(n=300, tiers=("local", "mid", "frontier"), seed=1)


@pytest.fixture
def routellm_dir() -> Path:
    try:
        return find_data().parent
    except Exception:
        pytest.skip("RouteLLM data (../shared/data/routellm) is not on this machine")
