"""The runtime monitor: one asyncio task per gateway that polls every watched endpoint's runtime.

Started at the gateway's lifespan start-up and stopped at shutdown; :meth:`RuntimeMonitor.refresh` also polls
on demand (``/healthz``). The request path never waits for it: policies and the tiers' order read the last
state each :class:`~.state.EndpointRuntime` holds. For endpoints with ``warm = "keep"`` it first loads the models
(Ollama's documented preload: ``/api/generate`` with the model and no prompt; LM Studio: a one-token chat,
which its just-in-time loading answers by loading), and keeps in-process models with a promotion pointer
loaded (a new promotion is loaded by the poll, not by the next request).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp

from smallfirst.backends.ollama import keep_alive_value
from smallfirst.core.types import RequestRecord
from smallfirst.runtime.probes import Fetch, probe
from smallfirst.runtime.state import EndpointRuntime

Warm = Callable[[], Awaitable[Any]]


class RuntimeMonitor:
    def __init__(self, runtimes: Mapping[str, EndpointRuntime], *, interval_s: float = 10.0,
                 in_process: Sequence[Warm] = (), timeout_s: float = 2.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.runtimes = dict(runtimes)  # endpoint label → its runtime view
        self.interval_s = interval_s
        self._in_process = tuple(in_process)
        self._timeout_s = timeout_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._refreshing: asyncio.Task[None] | None = None

    def __bool__(self) -> bool:
        return bool(self.runtimes or self._in_process)

    def get(self, name: str) -> EndpointRuntime | None:
        return self.runtimes.get(name)

    def expected_ms(self, name: str) -> float | None:
        """The endpoint's expected latency now: the predicted wait plus its learned service time (None: not
        watched, or not polled yet)."""
        rt = self.runtimes.get(name)
        if rt is None or not rt.state.last_checked:
            return None
        return rt.expected_wait_ms() + (rt.service_ms or 0.0)

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the polling task (a no-op without endpoints to watch, or when started already)."""
        if self._task is None and self:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="smallfirst-runtime-monitor")

    async def aclose(self) -> None:
        for task in (self._task, self._refreshing):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._refreshing = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        await self.prewarm()
        while True:
            await self.refresh()
            if self.interval_s <= 0:
                return
            await asyncio.sleep(self.interval_s)
            await self._warm_in_process()

    def _fetch(self) -> Fetch:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout_s))
        return Fetch(self._session)

    # ---- polling ---------------------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Poll every watched runtime now (a refresh already running is joined, not doubled)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._poll_all())
        await asyncio.shield(self._refreshing)

    async def _poll_all(self) -> None:
        fetch = self._fetch()
        rts = list(self.runtimes.values())
        states = await asyncio.gather(*(probe(rt, fetch, self._clock) for rt in rts))
        for rt, st in zip(rts, states, strict=True):
            rt.update(st)

    def observe(self, record: RequestRecord) -> None:
        """Learn load and service times from every attempt on a watched endpoint."""
        for a in record.attempts:
            rt = self.runtimes.get(a.endpoint)
            if rt is not None:
                rt.observe(a.latency_ms, a.outcome == "ok")

    # ---- keeping models warm ---------------------------------------------------------------------------

    async def prewarm(self) -> None:
        """Load every watched model kept warm (``warm = "keep"``) now; errors are left to the next poll to report."""
        fetch = self._fetch()
        keep = [rt for rt in self.runtimes.values() if rt.keep_warm]
        await asyncio.gather(*(self._load(rt, fetch) for rt in keep), self._warm_in_process(),
                             return_exceptions=True)

    async def _warm_in_process(self) -> None:
        await asyncio.gather(*(w() for w in self._in_process), return_exceptions=True)

    async def _load(self, rt: EndpointRuntime, fetch: Fetch) -> None:
        if rt.runtime == "ollama":
            body: dict[str, Any] = {"model": rt.model}
            if rt.keep_alive is not None:
                body["keep_alive"] = keep_alive_value(rt.keep_alive)
            await fetch.json(f"{rt.base_url}/api/generate", body)
        elif rt.runtime == "lmstudio":
            await fetch.json(f"{rt.base_url}/v1/chat/completions",
                             {"model": rt.model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})

    # ---- views -----------------------------------------------------------------------------------------

    def snapshot(self, name: str) -> dict[str, Any] | None:
        """The endpoint's state for /healthz and the dashboard (None: not watched)."""
        rt = self.runtimes.get(name)
        if rt is None:
            return None
        out = rt.state.as_dict()
        out.update(warm=rt.state.warm, idle=rt.state.idle, expected_wait_ms=_finite(rt.expected_wait_ms()),
                   estimated_load_ms=round(rt.estimated_load_ms(), 1),
                   learned_load_ms=rt.load_ms, learned_service_ms=rt.service_ms)
        return out


def _finite(v: float) -> float | None:
    return round(v, 1) if v != float("inf") else None


def preference(runtimes: Sequence[EndpointRuntime | None]) -> Callable[[int], int]:
    """For a balanced tier: given the round-robin pick ``k``, the first endpoint from ``k`` on that is warm and
    idle (an unwatched or not yet polled endpoint counts as warm and idle), else ``k``. Reads ints and flags only."""
    n = len(runtimes)

    def prefer(k: int) -> int:
        for i in range(n):
            j = (k + i) % n
            rt = runtimes[j]
            if rt is None or not rt.state.last_checked or (rt.state.warm and rt.state.idle):
                return j
        return k

    return prefer
