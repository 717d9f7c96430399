"""Shared pieces of the fine-tuning tests: a learnable task, log rows, a trainable tiny GGUF."""

from __future__ import annotations

import json
import random
from pathlib import Path

from smallfirst.core.types import Attempt, RequestRecord, Usage

POSITIVE = ("good", "great", "happy", "lovely", "nice", "bright")
NEGATIVE = ("bad", "awful", "sad", "poor", "ugly", "grim")
NOUNS = ("cat", "dog", "park", "tree", "city", "weather", "mat", "bird", "room", "song")


def sentiment_prompts(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` distinct (prompt, answer) pairs: the answer is ``label=yes`` for a positive word, else ``label=no``
    — a fixed output format no base model produces by itself."""
    rng = random.Random(seed)
    out: dict[str, str] = {}
    while len(out) < n:
        good = rng.random() < 0.5
        word = rng.choice(POSITIVE if good else NEGATIVE)
        prompt = f"the {rng.choice(NOUNS)} and the {rng.choice(NOUNS)} was {word}"
        out.setdefault(prompt, "label=yes" if good else "label=no")
    return list(out.items())


SUBJECTS = ("The pasta", "Our hotel room", "The delivery", "This phone", "The support team", "The concert",
            "My new jacket", "The battery", "The checkout process", "The coffee", "This laptop", "The tour guide",
            "The app update", "The mattress", "The rental car", "The museum visit", "The headphones",
            "The repair service", "The train ride", "The cooking class")
PRAISE = ("was wonderful", "exceeded my expectations", "works perfectly", "was friendly and fast",
          "is worth every penny", "made my day", "was spotless", "arrived early and well packed",
          "sounds amazing", "was a real pleasure")
COMPLAINTS = ("was a disaster", "broke after two days", "was rude and slow", "is a waste of money",
              "arrived cold", "keeps crashing", "was dirty", "never showed up", "sounds terrible",
              "was a complete letdown")
INSTRUCTION = "Is this review positive? Reply with exactly label=yes or label=no."


def review_tasks(n: int, seed: int = 0) -> list[dict[str, str]]:
    """``n`` (≤ 400) eval tasks: a short review plus the instruction; the answer is exactly ``label=yes`` or
    ``label=no`` — a fixed format a small base model rarely follows even when told to."""
    rng = random.Random(seed)
    items = [(s, p, True) for s in SUBJECTS for p in PRAISE] + [(s, p, False) for s in SUBJECTS for p in COMPLAINTS]
    rng.shuffle(items)
    return [{"prompt": f"Review: {s} {p}.\n{INSTRUCTION}", "expected": "label=yes" if good else "label=no",
             "type": "classify", "scorer": "exact"} for s, p, good in items[:n]]


def write_task_file(path: Path, pairs: list[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for prompt, answer in pairs:
            fh.write(json.dumps({"prompt": prompt, "expected": answer, "type": "classify", "scorer": "exact"}) + "\n")
    return path


def escalated(i: int, prompt: str | None, answer: str | None, *, ts: float = 1_700_000_000.0,
              sensitive: tuple[str, ...] = (), task_type: str = "classify", tier: str = "frontier",
              escalations: tuple[str, ...] = ("local->frontier",), status: int = 200) -> RequestRecord:
    """A log row as the engine writes it for a request the local tier failed and a higher tier answered."""
    attempts = (Attempt("local", "tiny", "embedded:tiny", "contract_failed", 3.0),
                Attempt(tier, "gpt-fake", "vllm:gpt-fake", "ok", 40.0, 0.0002, Usage(20, 3))) \
        if escalations else (Attempt(tier, "m", "e", "ok", 5.0, 0.0, Usage(20, 3)),)
    return RequestRecord(
        request_id=f"req-{i}", ts=ts + i, requested_model="smallfirst/auto", tier=tier if status == 200 else None,
        model="gpt-fake" if tier != "local" else "tiny", endpoint="e", status=status, error_code=None, reason="test",
        escalations=escalations, attempts=attempts, prompt_tokens=20, completion_tokens=3,
        cost_usd=sum(a.cost_usd for a in attempts), latency_ms=50.0, ttft_ms=None, stream=False,
        task_type=task_type, sensitive=sensitive, prompt_text=prompt, response_text=answer)


def trainable_tiny_gguf(path: Path, seed: int = 0) -> Path:
    """The tiny random Llama with an output layer a LoRA can steer (see ``write_tiny_gguf(output_std=…)``)."""
    from tests.fakes.tiny_gguf import write_tiny_gguf

    return write_tiny_gguf(path, seed=seed, output_std=64 ** -0.5)
