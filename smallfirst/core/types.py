"""Frozen value types shared by every layer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from smallfirst.core.findings import Findings
from smallfirst.core.needs import NONE, Needs
from smallfirst.core.text import content_text

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]

AUTO_MODEL = "smallfirst/auto"
MODEL_PREFIX = "smallfirst/"


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """An OpenAI-shaped chat request, validated.

    ``body`` keeps every field the client sent (after validation), so OpenAI-compatible backends
    can pass unknown-but-valid options through untouched. ``messages`` is the same list as
    ``body["messages"]``.
    """

    model: str
    messages: list[dict[str, Any]]
    body: Mapping[str, Any]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    response_format: Mapping[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    logprobs: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case request headers, set by the server
    api_key_id: str | None = None  # the caller's gateway key id, set by the server (never from the body)

    def text(self) -> str:
        """All message text concatenated (string contents and text parts)."""
        return "\n".join(content_text(m.get("content")) for m in self.messages)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one answer. ``prompt_tokens`` counts every input token, cached ones included (OpenAI's
    meaning); ``cache_read_tokens`` and ``cache_write_tokens`` are the parts of it read from and written to
    the upstream's prompt cache (``cache_write_1h_tokens``: the writes with Anthropic's one-hour TTL)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def uncached_prompt_tokens(self) -> int:
        """Input tokens neither read from nor written to a cache (Anthropic's ``input_tokens``)."""
        return max(0, self.prompt_tokens - self.cache_read_tokens - self.cache_write_tokens)

    def to_openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cache_read_tokens or self.cache_write_tokens:
            # OpenAI's cached_tokens; cache_write_tokens as OpenRouter reports Anthropic's cache writes
            out["prompt_tokens_details"] = {"cached_tokens": self.cache_read_tokens,
                                            **({"cache_write_tokens": self.cache_write_tokens}
                                               if self.cache_write_tokens else {})}
        return out


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """One completed answer, backend-neutral. ``message`` is an OpenAI assistant message dict."""

    model: str
    message: dict[str, Any]
    finish_reason: str
    usage: Usage
    id: str = ""
    logprobs: Mapping[str, Any] | None = None
    # n > 1: the choices after the first, as OpenAI choice objects (index, message, finish_reason, logprobs)
    extra_choices: tuple[Mapping[str, Any], ...] = ()
    system_fingerprint: str | None = None  # the upstream's, when it sent one

    @property
    def content(self) -> str:
        c = self.message.get("content")
        return c if isinstance(c, str) else ""


@dataclass(frozen=True, slots=True)
class ChatChunk:
    """One streaming delta. ``usage`` is set on the final chunk when the backend reports it."""

    delta: dict[str, Any]
    finish_reason: str | None = None
    usage: Usage | None = None
    logprobs: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend endpoint can do (read by policies and the router; overridable per endpoint in config)."""

    context_window: int | None = None
    json_schema: bool = False
    tools: bool = False  # the model chooses when to call a tool (tool_choice auto / required)
    named_tools: bool = False  # a named tool_choice is honoured (e.g. grammar-constrained), even without ``tools``
    logprobs: bool = False
    streaming: bool = True
    in_process: bool = False  # the model runs inside the gateway (warmed up at start-up)
    text_parts: bool = True  # content as a list of text parts is accepted (the backend flattens it if it must)
    images: bool = False  # image parts (URL or data URL) are understood
    embeddings: bool = False  # serves /v1/embeddings
    choices: bool = False  # n > 1 answers in one call

    def with_overrides(self, overrides: Mapping[str, Any]) -> Capabilities:
        """A copy with the fields in ``overrides`` (config's ``[tiers.endpoints.capabilities]``) replaced."""
        from dataclasses import replace

        return replace(self, **overrides) if overrides else self


# Anthropic's prompt-caching multipliers of the base input price, the same for every model: cache reads
# 0.1x, 5-minute cache writes 1.25x, 1-hour cache writes 2x
# (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching, "Pricing").
ANTHROPIC_CACHE_READ = 0.1
ANTHROPIC_CACHE_WRITE_5M = 1.25
ANTHROPIC_CACHE_WRITE_1H = 2.0


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens.

    Cached input is billed at its own prices: ``cache_read_per_mtok`` (None: no discount is known, so
    reads are billed as plain input, never under the real price) and the cache-write prices (None:
    Anthropic's 1.25x / 2x of input; only Anthropic's API bills cache writes, so only its usage has them).
    """

    input_per_mtok: float
    output_per_mtok: float
    source: str = ""
    cache_read_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None  # 5-minute TTL
    cache_write_1h_per_mtok: float | None = None

    def cost(self, usage: Usage) -> float:
        base = usage.uncached_prompt_tokens * self.input_per_mtok + usage.completion_tokens * self.output_per_mtok
        if not (usage.cache_read_tokens or usage.cache_write_tokens):
            return base / 1e6
        read = self.input_per_mtok if self.cache_read_per_mtok is None else self.cache_read_per_mtok
        write_5m = (self.input_per_mtok * ANTHROPIC_CACHE_WRITE_5M if self.cache_write_per_mtok is None
                    else self.cache_write_per_mtok)
        write_1h = (self.input_per_mtok * ANTHROPIC_CACHE_WRITE_1H if self.cache_write_1h_per_mtok is None
                    else self.cache_write_1h_per_mtok)
        long = min(usage.cache_write_1h_tokens, usage.cache_write_tokens)
        return (base + usage.cache_read_tokens * read + (usage.cache_write_tokens - long) * write_5m
                + long * write_1h) / 1e6


FREE = Price(0.0, 0.0, "local: no API cost")


@dataclass(frozen=True, slots=True)
class Admission:
    """What the access layer admitted a request with, passed to the engine as a value.

    ``tiers`` is None when the caller may use every tier; else the tiers its API key may use (allowed
    tiers, and those whose cost fits the budget left). ``reserved_*`` is what was held against its rate
    limits and budget until the request is settled."""

    key_id: str | None = None
    tiers: tuple[str, ...] | None = None
    reserved_tokens: float = 0.0
    reserved_usd: float = 0.0


OPEN = Admission()  # no key: every tier, nothing reserved


@dataclass(frozen=True, slots=True)
class Signals:
    """Cheap features of a request, computed before routing."""

    task_type: str = "chat"
    prompt_chars: int = 0
    prompt_tokens_est: int = 0
    expected_output_tokens: int = 256
    turns: int = 1
    language: str = "en"
    code_density: float = 0.0
    math_density: float = 0.0
    wants_json: bool = False
    wants_tools: bool = False
    reasoning_requested: bool = False
    sensitive_classes: tuple[str, ...] = ()
    sensitivity: Findings | None = None  # the detector's findings (types and counts only), when residency is on
    needs: Needs = NONE  # what the answering endpoint must (or should) be able to do (smallfirst.core.needs)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RouteChoice:
    """The router's pick: the tier to start at, and why."""

    tier: str
    reason: str
    scores: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """Tiers a policy allows (in chain order) and the reasons for what it removed."""

    allowed: tuple[str, ...]
    reasons: tuple[str, ...] = ()
    pin_local: bool = False  # fail closed: no fallback/escalation may leave the allowed set


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one endpoint."""

    tier: str
    model: str
    endpoint: str
    outcome: str  # "ok", or an error code / rejection reason
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    usage: Usage = Usage()
    location: str = ""  # where the endpoint sends data ("local", "eu", "remote" …); "" in rows logged before
    # sent masked (smallfirst.policy.redacting): (entity type, distinct values masked); None = sent as is
    redacted: tuple[tuple[str, int], ...] | None = None
    # own hardware's amortised price + energy for this attempt (smallfirst.core.local_cost); never in cost_usd
    local_cost_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One row of the request log."""

    request_id: str
    ts: float
    requested_model: str
    tier: str | None
    model: str | None
    endpoint: str | None
    status: int
    error_code: str | None
    reason: str
    escalations: tuple[str, ...]
    attempts: tuple[Attempt, ...]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: float
    ttft_ms: float | None
    stream: bool
    task_type: str | None = None
    sensitive: tuple[str, ...] = ()
    prompt_text: str | None = None
    response_text: str | None = None
    api_key_id: str | None = None
    sensitive_entities: tuple[tuple[str, int], ...] = ()  # (entity type, count); never the matched text
    local_cost_usd: float = 0.0  # the attempts' local (own hardware) cost; cost_usd is API spend only


@dataclass(frozen=True, slots=True)
class Decision:
    """How a request was served: the answering tier/endpoint, why, and what was tried first."""

    tier: str
    model: str
    endpoint: str
    reason: str
    escalations: tuple[str, ...]
    attempts: tuple[Attempt, ...]
    cost_usd: float
