"""``extract(request) -> Signals``: cheap request features, computed on every request.

Bounded work: patterns run over a window of at most ``HEAD + TAIL`` characters of the instruction
(the last user message, plus the head of the system prompt), never over the whole context.
Sensitivity is not detected here (see ``smallfirst.sensitivity``); ``sensitive_classes`` stays empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smallfirst.core.needs import needs_of
from smallfirst.core.text import content_text
from smallfirst.core.types import ChatRequest, Signals
from smallfirst.signals import patterns as P
from smallfirst.signals.literals import first_at

HEAD = 1500
TAIL = 300
SYSTEM_HEAD = 400
CHARS_PER_TOKEN = 4


def normalise_task(hint: str) -> str:
    """A client's task hint in canonical form (known aliases mapped; unknown hints kept, lower-cased)."""
    h = hint.strip().lower()
    if h in P.TASK_TYPES:
        return h
    return P.TASK_ALIASES.get(h, h)


def _window(text: str) -> str:
    if len(text) <= HEAD + TAIL:
        return text
    return text[:HEAD] + "\n" + text[-TAIL:]


def _instruction_verb(lower: str, words: frozenset[str] | None = None, phrases: bool = True) -> str | None:
    """The task named by the earliest instruction verb or phrase in the head of the instruction.

    ``words`` (the tokens of ``lower``) and ``phrases`` (whether ``ANY_PHRASE_RX`` hits ``lower``) let
    the caller skip scans that cannot succeed; the answer is the same either way.
    """
    head = lower[: P.INSTRUCTION_HEAD]
    best: tuple[int, str] | None = None
    # a head shorter than ``lower`` may end in a cut token that ``words`` lacks: then scan it
    if words is None or len(head) < len(lower) or not words.isdisjoint(P.INSTRUCTION_WORDS):
        for m in P.TOKEN.finditer(head):
            task = P.INSTRUCTION_WORDS.get(m.group())
            if task is not None:
                best = (m.start(), task)
                break
    if not phrases:
        return best[1] if best else None
    # only a phrase starting before the verb can win, and it ends before ``endpos``
    endpos = len(head) if best is None else min(len(head), best[0] + P.INSTRUCTION_PHRASE_MAX - 1)
    hit = P.INSTRUCTION_PHRASES_RX.search(head, 0, endpos)
    if hit is not None and (best is None or hit.start() < best[0]):
        phrase = first_at(head, hit.start(), P.INSTRUCTION_PHRASE_ORDER)
        best = (hit.start(), P.INSTRUCTION_PHRASE_TASK[phrase])
    return best[1] if best else None


def _task(lower: str, tokens: list[str], phrases: bool, code_density: float, math_density: float) -> str:
    words = frozenset(tokens)
    if code_density >= 0.3 or (words & P.CODE_WORDS) or (phrases and P.CODE_PHRASES_RX.search(lower)):
        return "code"
    verb = _instruction_verb(lower, words, phrases)
    if verb is not None:
        return verb
    if (math_density >= 0.12 or (words & P.MATH_WORDS) or P.MATH_EXPR.search(lower)
            or (phrases and P.MATH_PHRASES_RX.search(lower))):
        return "math"
    if ((phrases and P.REASONING_PHRASES_RX.search(lower)) or (words & P.REASONING_WORDS)
            or (phrases and P.REASONING_MORE_RX.search(lower))):
        return "reasoning"
    if ((tokens and tokens[0] in P.QUESTION_START) or lower.rstrip().endswith("?")
            or (phrases and P.KNOWLEDGE_PHRASES_RX.search(lower))):
        return "knowledge"
    return "chat"


def detect_task(instruction: str, code_density: float, math_density: float) -> str:
    """Task type of an instruction window, by precedence: code → instruction verb → math → reasoning
    → knowledge question → chat."""
    lower = instruction.lower()
    return _task(lower, P.TOKEN.findall(lower), P.ANY_PHRASE_RX.search(lower) is not None,
                 code_density, math_density)


def _language(sample: str, ascii_words: list[str] | None) -> str:
    if not sample.isascii():
        for lang, pat in P.SCRIPTS:
            if len(pat.findall(sample)) >= 3:
                return lang
        words = sample.lower().split()[:80]
    else:
        words = (P.TOKEN.findall(sample.lower()) if ascii_words is None else ascii_words)[:80]
    counts = [0] * len(P.STOPWORD_LANG_NAMES)
    for w in words:
        for i in P.STOPWORD_LANGS.get(w, ()):
            counts[i] += 1
    top = max(counts)
    return P.STOPWORD_LANG_NAMES[counts.index(top)] if top else "en"


def detect_language(window: str) -> str:
    """ISO 639-1 guess: script first, then stopword counts for Latin-script languages; default "en"."""
    return _language(window[:400], None)


def code_density(window: str) -> float:
    """Share of lines that look like code (a fenced block counts as at least 0.5)."""
    lines = window.count("\n") + 1
    dens = min(1.0, len(P.CODE_LINE.findall(window)) / lines)
    if "```" in window:
        dens = max(dens, 0.5)
    return round(dens, 4)


def math_density(window: str) -> float:
    """Share of characters that are digits or math operators."""
    if not window:
        return 0.0
    return round(len(P.MATH_CHAR.findall(window)) / len(window), 4)


def _expected_output(task: str, prompt_tokens: int, max_tokens: int | None) -> int:
    base = P.EXPECTED_OUTPUT.get(task, 256)
    if base < 0:  # translate / rewrite: about as long as the input
        base = max(16, min(prompt_tokens, 2048))
    return min(base, max_tokens) if max_tokens else base


def _wants_json(request: ChatRequest, window: str, lower: str | None = None) -> bool:
    """``lower`` is ``window.lower()`` when the caller has it."""
    rf = request.response_format
    if isinstance(rf, Mapping) and rf.get("type") in ("json_object", "json_schema"):
        return True
    return "json" in (window.lower() if lower is None else lower) and P.JSON_REQUEST.search(window) is not None


def _reasoning_requested(request: ChatRequest, window: str, lower: str | None = None,
                         phrases: bool = True) -> bool:
    """``lower`` is ``window.lower()`` when the caller has it; ``phrases`` False: no phrase occurs there."""
    body = request.body
    if body.get("reasoning_effort") or body.get("reasoning"):
        return True
    if not phrases:
        return False
    return P.REASONING_PHRASES_RX.search(window.lower() if lower is None else lower) is not None


def extract(request: ChatRequest) -> Signals:
    """Compute the cheap signals of one request (p50 well under 1 ms; see bench/router_latency.py)."""
    total_chars = 0
    turns = 0
    system = ""
    last_user = ""
    for m in request.messages:
        text = content_text(m.get("content"))
        total_chars += len(text)
        role = m.get("role")
        if role == "user":
            turns += 1
            last_user = text
        elif role in ("system", "developer") and not system:
            system = text
    instruction = _window(last_user)
    lower = instruction.lower()
    tokens = P.TOKEN.findall(lower)
    phrases = P.ANY_PHRASE_RX.search(lower) is not None
    if system:
        window = system[:SYSTEM_HEAD] + "\n" + instruction
        window_lower, window_phrases = window.lower(), True
    else:
        window, window_lower, window_phrases = instruction, lower, phrases
    cd = code_density(instruction)
    md = math_density(instruction)
    detected = _task(lower, tokens, phrases, cd, md)
    hint = request.metadata.get("task") if isinstance(request.metadata, Mapping) else None
    task = normalise_task(hint) if isinstance(hint, str) and hint.strip() else detected
    prompt_tokens = (total_chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN
    extra: dict[str, Any] = {"detected_task": detected}
    if task != detected:
        extra["task_hint"] = task
    return Signals(
        task_type=task,
        prompt_chars=total_chars,
        prompt_tokens_est=prompt_tokens,
        expected_output_tokens=_expected_output(task, prompt_tokens, request.max_tokens),
        turns=max(turns, 1),
        language=_language(instruction[:400], tokens if len(instruction) <= 400 else None),
        code_density=cd,
        math_density=md,
        wants_json=_wants_json(request, window, window_lower),
        wants_tools=bool(request.tools),
        reasoning_requested=_reasoning_requested(request, window, window_lower, window_phrases),
        needs=needs_of(request),
        extra=extra,
    )
