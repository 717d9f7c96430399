"""The only abstract base classes. Each has at most five methods."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from smallfirst.core.types import (
    Capabilities,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    PolicyResult,
    RequestRecord,
    RouteChoice,
    Signals,
)


class Backend(ABC):
    """One model endpoint speaking one wire protocol.

    Implementations raise only :mod:`smallfirst.core.errors` upstream errors; wire errors are
    translated inside the backends package.
    """

    name: str  # endpoint label, e.g. "openai:gpt-4o-mini"
    model: str  # model id sent upstream

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    @abstractmethod
    async def complete(self, request: ChatRequest) -> ChatResponse: ...

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Yield chunks; the last one carries ``finish_reason`` (and ``usage`` when known)."""

    @abstractmethod
    async def health(self) -> dict[str, Any]:
        """``{"ok": bool, ...details}``; never raises for an unreachable upstream."""

    @abstractmethod
    async def aclose(self) -> None: ...


class Router(ABC):
    """Picks the tier a request starts at. The engine calls :meth:`choose` only; the per-tier scores a
    router computed on the way travel in :attr:`RouteChoice.scores` (the built-in routers also offer a
    ``score`` method for benchmarks and tests, which is not part of this protocol)."""

    @abstractmethod
    def choose(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> RouteChoice:
        """Pick the cheapest tier (among ``tiers``, cheapest first) expected to be good enough."""


class Policy(ABC):
    """Constrains the tiers a request may use, before the router chooses."""

    @abstractmethod
    def check(self, request: ChatRequest, signals: Signals, tiers: Sequence[str]) -> PolicyResult: ...

    def served(self, request: ChatRequest, tier: str, answer: str) -> None:
        """Called after ``tier`` answered ``request`` (status 200) with ``answer``'s text; a policy that
        learns from what was served (e.g. conversation stickiness) overrides it."""
        return None


class Store(ABC):
    """The request log."""

    @abstractmethod
    def record(self, record: RequestRecord) -> None:
        """Enqueue a row; must not block the response path."""

    @abstractmethod
    def query(self, *, since: float | None = None, until: float | None = None,
              limit: int | None = None) -> list[RequestRecord]: ...

    @abstractmethod
    def summary(self, *, since: float, until: float, bucket_s: int) -> Mapping[str, Any]:
        """Aggregates for [since, until): per-bucket tier/status counts and per-dimension facets
        (the shape is documented in ``smallfirst.store.summary.summarize``)."""

    @abstractmethod
    def flush(self) -> None:
        """Write everything queued so far."""

    @abstractmethod
    def close(self) -> None: ...


class Scorer(ABC):
    """Scores an answer against a task's expectation."""

    @abstractmethod
    def score(self, task: Mapping[str, Any], answer: str) -> float:
        """A value in [0, 1]."""


class Ask(Protocol):
    """Given to :meth:`AnswerCheck.check` by the engine: one more answer for the check, its cost counted.

    ``higher=False`` asks the endpoint that answered again (self-consistency samples); ``higher=True``
    asks the first endpoint of the next tier in the request's plan (a verifier), or returns ``None``
    when the plan has no higher tier (policies such as residency decide what the plan holds). The
    engine records each call as an attempt whose outcome is ``purpose``; ``None`` also when it failed.
    """

    async def __call__(self, request: ChatRequest, *, purpose: str, higher: bool = False
                       ) -> ChatResponse | None: ...


class AnswerCheck(ABC):
    """The cascade's acceptance test: does this tier's answer meet the request's contract?"""

    @abstractmethod
    def applies(self, request: ChatRequest, signals: Signals) -> bool:
        """True when the request carries a contract (then streams are checked before the first byte)."""

    def prepare(self, request: ChatRequest, signals: Signals, tier: str, capabilities: Capabilities) -> ChatRequest:
        """The request to send to this tier (e.g. constrained decoding, log-probs the check needs)."""
        return request

    @abstractmethod
    async def check(self, request: ChatRequest, signals: Signals, response: ChatResponse, tier: str,
                    ask: Ask) -> str | None:
        """``None`` to accept, else the rejection reason (``schema_invalid``, ``low_confidence`` …).
        ``request`` is the one sent to the tier (after :meth:`prepare`)."""

    def restore(self, request: ChatRequest, response: ChatResponse) -> ChatResponse:
        """The returned answer in the form the client asked for (``request`` as the client sent it)."""
        return response

    def escalates(self, request: ChatRequest) -> bool:
        """False: a rejected answer is returned with the reason noted instead of escalating."""
        return True
