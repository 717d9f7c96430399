"""smallfirst-echo-plugin: one of each thing a smallfirst plugin can add, each with its own options."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from smallfirst.config.schema import EndpointConfig, Settings
from smallfirst.core.protocols import Backend, Policy, Router, Scorer, Store
from smallfirst.core.types import (
    Capabilities,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    PolicyResult,
    RequestRecord,
    RouteChoice,
    Signals,
    Usage,
)
from smallfirst.plugins import Options, Register, hookimpl


class EchoOptions(Options):
    greeting: str = "hello"
    repeat: int = 1


class EchoBackend(Backend):
    """Answers ``<greeting>: <last user message>`` (``repeat`` times)."""

    def __init__(self, cfg: EndpointConfig, options: EchoOptions) -> None:
        self.name = cfg.label
        self.model = cfg.model
        self.options = options

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(context_window=4096)

    def _text(self, request: ChatRequest) -> str:
        last = next((m.get("content") for m in reversed(request.messages) if m.get("role") == "user"), "")
        return " ".join([f"{self.options.greeting}: {last}"] * self.options.repeat)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        text = self._text(request)
        return ChatResponse(model=self.model, message={"role": "assistant", "content": text}, finish_reason="stop",
                            usage=Usage(len(str(request.messages)) // 4, len(text.split())))

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        words = self._text(request).split(" ")
        yield ChatChunk(delta={"role": "assistant", "content": ""})
        for i, w in enumerate(words):
            yield ChatChunk(delta={"content": w if i == 0 else " " + w})
        yield ChatChunk(delta={}, finish_reason="stop", usage=Usage(1, len(words)))

    async def health(self) -> dict[str, Any]:
        return {"ok": True}

    async def aclose(self) -> None:
        return None


class KeywordOptions(Options):
    words: list[str]
    tier: str


class KeywordRouter(Router):
    """Starts at ``tier`` when the prompt contains one of ``words``, else at the cheapest allowed tier."""

    def __init__(self, settings: Settings, options: KeywordOptions) -> None:
        if options.tier not in settings.tier_names:
            raise ValueError(f"keyword router: tier {options.tier!r} is not configured")
        self.tiers = settings.tier_names
        self.options = options

    def _hit(self, request: ChatRequest) -> bool:
        text = " ".join(str(m.get("content", "")) for m in request.messages).lower()
        return any(w.lower() in text for w in self.options.words)

    def score(self, request: ChatRequest, signals: Signals) -> Mapping[str, float]:
        hit = self._hit(request)
        return {t: 1.0 if (t == self.options.tier) == hit else 0.0 for t in self.tiers}

    def choose(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> RouteChoice:
        if self._hit(request) and self.options.tier in tiers:
            return RouteChoice(tier=self.options.tier, reason=f"keyword → {self.options.tier}")
        return RouteChoice(tier=tiers[0], reason=f"keyword: none → {tiers[0]}")


class DenyOptions(Options):
    tier: str


class DenyTier(Policy):
    def __init__(self, settings: Settings, options: DenyOptions) -> None:
        self.tier = options.tier

    def check(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> PolicyResult:
        keep = tuple(t for t in tiers if t != self.tier)
        return PolicyResult(allowed=keep, reasons=(f"deny-tier: {self.tier}",) if len(keep) < len(tiers) else ())


class MemoryOptions(Options):
    limit: int = 1000


class MemoryStore(Store):
    def __init__(self, settings: Settings, options: MemoryOptions) -> None:
        self.limit = options.limit
        self.rows: list[RequestRecord] = []

    def record(self, record: RequestRecord) -> None:
        self.rows = [*self.rows, record][-self.limit:]

    def query(self, *, since: float | None = None, until: float | None = None,
              limit: int | None = None) -> list[RequestRecord]:
        return self.rows[-limit:] if limit else list(self.rows)

    def summary(self, *, since: float, until: float, bucket_s: int) -> Mapping[str, Any]:
        return {"rows": len(self.rows)}

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class ContainsOptions(Options):
    case_sensitive: bool = False


class ContainsScorer(Scorer):
    """1 when the answer contains the expected text."""

    def __init__(self, options: ContainsOptions) -> None:
        self.case_sensitive = options.case_sensitive

    def score(self, task: Mapping[str, Any], answer: str) -> float:
        expected = str(task.get("expected", ""))
        if not self.case_sensitive:
            expected, answer = expected.lower(), answer.lower()
        return 1.0 if expected in answer else 0.0


@hookimpl
def register_backends(register: Register) -> None:
    register("echo-plugin", EchoBackend, options=EchoOptions)


@hookimpl
def register_routers(register: Register) -> None:
    register("keyword", KeywordRouter, options=KeywordOptions)


@hookimpl
def register_policies(register: Register) -> None:
    register("deny-tier", DenyTier, options=DenyOptions)


@hookimpl
def register_stores(register: Register) -> None:
    register("memory", MemoryStore, options=MemoryOptions)


@hookimpl
def register_scorers(register: Register) -> None:
    register("contains", ContainsScorer, options=ContainsOptions)
