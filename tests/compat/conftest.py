"""The compatibility suite's two gateways, each a real uvicorn server on 127.0.0.1, started once per session.

* ``local``        one tier ``local``: the real embedded SmolLM2-135M (backend "embedded").
* ``local+upper``  the same local tier plus a tier ``upper``: a protocol-faithful fake OpenAI server
                   (tests/fakes/openai_server.py) behind the ``openai`` preset (tools, images, JSON
                   schema, n > 1, as OpenAI's API has them; embeddings stay on the built-in local model).

Every test that takes ``target`` runs once per config. A test learns which tier answered from the
``x-smallfirst-tier`` header where its library shows headers, else from the requests the upper fake
received (``target.upper_calls()``): the fake records a request before it answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from smallfirst.config.loader import parse
from smallfirst.config.schema import Settings
from smallfirst.server.app import Gateway, create_app
from tests.fakes.base import Recorded
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.gateway import running

CONFIGS = ("local", "local+upper")
UPPER_MODEL = "gpt-upper"
UPPER_KEY_ENV = "SF_COMPAT_UPPER_KEY"
LOCAL_TIER = {"name": "local", "endpoints": [{"backend": "embedded", "n_threads": 2, "n_ctx": 2048}]}
# Names an unmodified app sends (the Agents SDK splits "smallfirst/auto" into provider/model). Added only
# where the config schema has [aliases] (issue 14, item 5), so both configs load before and after it lands.
ALIASES = {"gpt-4o": "smallfirst/auto", "claude-sonnet-4-5": "smallfirst/auto", "auto": "smallfirst/auto"}


@dataclass
class Target:
    """One running gateway of the suite."""

    config: str
    url: str
    app: Gateway
    upper: FakeOpenAI | None

    @property
    def v1(self) -> str:
        return self.url + "/v1"

    @property
    def has_upper(self) -> bool:
        return self.upper is not None

    def upper_calls(self) -> list[Recorded]:
        """Model calls the upper tier's fake has received so far (empty in the local-only config)."""
        if self.upper is None:
            return []
        return [r for r in self.upper.requests if r.method == "POST"]


def _config(tiers: list[dict[str, Any]], log: Path) -> dict[str, Any]:
    cfg: dict[str, Any] = {"tiers": tiers, "log": {"path": str(log), "flush_interval_s": 0.01}}
    if "aliases" in Settings.model_fields:
        cfg["aliases"] = dict(ALIASES)
    return cfg


@pytest.fixture(scope="session")
def compat_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    app = create_app(parse(_config([LOCAL_TIER], tmp_path_factory.mktemp("compat-local") / "log.db")))
    with running(app) as url:
        yield Target("local", url, app, None)


@pytest.fixture(scope="session")
def compat_upper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with pytest.MonkeyPatch.context() as mp, FakeOpenAI(model=UPPER_MODEL, api_key="sk-upper").in_thread() as fake:
        mp.setenv(UPPER_KEY_ENV, "sk-upper")
        upper = {"name": "upper", "endpoints": [{"backend": "openai", "model": UPPER_MODEL,
                                                 "base_url": fake.base_url, "api_key_env": UPPER_KEY_ENV}]}
        app = create_app(parse(_config([LOCAL_TIER, upper], tmp_path_factory.mktemp("compat-upper") / "log.db")))
        with running(app) as url:
            yield Target("local+upper", url, app, fake)


@pytest.fixture(autouse=True)
def own_event_loop() -> Iterator[None]:
    """Client libraries' sync calls take ``asyncio.get_event_loop()``, which makes a loop (and never closes
    it) when the thread has none (LlamaIndex, litellm): each test gets one, closed afterwards with any loop
    a library set in its place, so no unclosed loop is left for a later test's garbage collection."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    try:
        current = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:  # a library set none
        current = loop
    asyncio.set_event_loop(None)
    for lp in {loop, current}:
        if not lp.is_running() and not lp.is_closed():
            lp.close()


@pytest.fixture(params=CONFIGS)
def target(request: pytest.FixtureRequest) -> Target:
    name = "compat_local" if request.param == "local" else "compat_upper"
    found: Target = request.getfixturevalue(name)
    return found
