"""Helpers for the eval tests: task files, configs and a synchronous run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from smallfirst.config.loader import parse
from smallfirst.config.schema import Settings
from smallfirst.evaluate.runfile import ResultRow
from smallfirst.evaluate.runner import EvalRunner, RunOptions, RunStats
from smallfirst.evaluate.tasks import load_tasks
from smallfirst.pipeline import build_tiers
from tests.fakes.base import Answer
from tests.fakes.openai_server import FakeOpenAI


def write_tasks(path: Path, tasks: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")
    return path


def settings(*tiers: tuple[str, dict[str, Any]]) -> Settings:
    """Tiers from (name, endpoint config) pairs, residency off (the tasks hold no personal data)."""
    return parse({"residency": {"enabled": False},
                  "tiers": [{"name": n, "endpoints": [ep]} for n, ep in tiers]})


def fake_local(reply: str) -> dict[str, Any]:
    return {"backend": "fake", "model": f"echo?reply={reply}"}


def remote(base_url: str, model: str = "gpt-fake", price: tuple[float, float] = (2.0, 8.0),
           backend: str = "openai_compat") -> dict[str, Any]:
    return {"backend": backend, "model": model, "base_url": base_url, "location": "us",
            "price_input_per_mtok": price[0], "price_output_per_mtok": price[1], "timeout_s": 10}


def run(cfg: Settings, tasks_file: Path, run_dir: Path, options: RunOptions | None = None,
        on_row: Callable[[ResultRow], None] | None = None, **kw: Any) -> RunStats:
    """Build the tiers, run to the end, close the backends."""

    async def go() -> RunStats:
        tiers = build_tiers(cfg)
        try:
            runner = EvalRunner(tiers, load_tasks(tasks_file), run_dir, options or RunOptions(progress=False,
                                                                                              backoff_s=0.01),
                                tasks_file=str(tasks_file), on_row=on_row, **kw)
            return await runner.run()
        finally:
            for t in tiers:
                for ep in t.endpoints:
                    await ep.backend.aclose()

    return asyncio.run(go())


class Knows(FakeOpenAI):
    """An OpenAI-compatible upstream that knows some answers (keyed by the last user message) and
    tracks how many requests it serves at once."""

    def __init__(self, answers: dict[str, str], **kw: Any) -> None:
        super().__init__(**kw)
        self.answers = answers
        self.in_flight = 0
        self.max_in_flight = 0

    def answer(self, last_user: str, max_tokens: int | None,
               tools: list[tuple[str, dict[str, Any]]] | None = None) -> Answer:
        if tools:
            return super().answer(last_user, max_tokens, tools)
        return Answer(self.answers.get(last_user, "I don't know"))

    async def chat(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await super().chat(request)
        finally:
            self.in_flight -= 1

    def prompts_seen(self, run: str | None = None) -> list[str]:
        """Last user messages of the chat requests (only those whose ``X-Eval-Run`` header is ``run``,
        when given: requests a cancelled client had already sent may be recorded late)."""
        out = []
        for r in self.requests:
            if run is not None and r.headers.get("X-Eval-Run") != run:
                continue
            if r.path.endswith("/chat/completions") and isinstance(r.body, dict):
                out.append(r.body["messages"][-1]["content"])
        return out
