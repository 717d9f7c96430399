"""A real plugin distribution, installed with pip, found through its entry point, serving requests.

The gateway runs on uvicorn on 127.0.0.1 and is driven by the official openai SDK; the config is a TOML file
read by the loader, with the plugin's backend and router options in their own tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import openai
import pytest

from smallfirst.config.loader import load, parse
from smallfirst.config.registry import (
    backend_names,
    plugin_policies,
    registry,
    reload_plugins,
    scorer_factory,
    store_factory,
    store_name,
)
from smallfirst.core.errors import ConfigError
from smallfirst.core.types import ChatRequest, Signals
from smallfirst.plugins import LOAD_ENV
from smallfirst.server.app import create_app
from tests.helpers.gateway import running

pytestmark = pytest.mark.usefixtures("echo_plugin")

CONFIG = """
[[tiers]]
name = "small"
[[tiers.endpoints]]
backend = "echo-plugin"
model = "tiny"
location = "local"
[tiers.endpoints.options]
greeting = "hi"

[[tiers]]
name = "big"
[[tiers.endpoints]]
backend = "echo-plugin"
model = "huge"
location = "local"
[tiers.endpoints.options]
greeting = "good day"
repeat = 2

[routing]
router = "keyword"
[routing.options]
words = ["prove"]
tier = "big"
"""


def _config(tmp_path: Path, extra: str = "", endpoint_options: str = 'greeting = "hi"') -> Path:
    p = tmp_path / "smallfirst.toml"
    text = CONFIG.replace('greeting = "hi"', endpoint_options, 1)
    p.write_text(text + f'\n[log]\npath = "{tmp_path / "log.db"}"\nflush_interval_s = 0.01\n' + extra)
    return p


def test_the_plugin_is_found_through_its_entry_point() -> None:
    reg = registry()
    assert reg.get("backend", "echo-plugin").source == "plugin smallfirst-echo-plugin:echo"
    assert "keyword" in reg.names("router") and "rules" in reg.names("router")
    assert "deny-tier" in reg.names("policy")
    assert {"memory", "sqlite", "postgres"} <= set(reg.names("store"))
    assert {"contains", "exact"} <= set(reg.names("scorer"))


def test_serves_requests_through_the_plugin_backend_and_router(tmp_path: Path) -> None:
    app = create_app(load(_config(tmp_path)))
    with running(app) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="smallfirst/auto", messages=[{"role": "user", "content": "hello there"}])
        assert raw.parse().choices[0].message.content == "hi: hello there"
        assert raw.headers["x-smallfirst-tier"] == "small"
        assert raw.headers["x-smallfirst-reason"].startswith("keyword")

        raw = client.chat.completions.with_raw_response.create(
            model="smallfirst/auto", messages=[{"role": "user", "content": "prove it"}])
        assert raw.parse().choices[0].message.content == "good day: prove it good day: prove it"
        assert raw.headers["x-smallfirst-tier"] == "big"

        stream = client.chat.completions.create(model="smallfirst/auto", stream=True,
                                                messages=[{"role": "user", "content": "stream me"}])
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == "hi: stream me"
        models = {m.id for m in client.models.list()}
        assert {"smallfirst/auto", "smallfirst/small", "smallfirst/big"} <= models


def test_misspelt_plugin_option_is_one_line_naming_key_and_plugin(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        load(_config(tmp_path, endpoint_options='greetin = "hi"'))
    line = ei.value.one_line()
    assert "unknown key 'tiers[0].endpoints[0].options.greetin'" in line
    assert "backend 'echo-plugin' from plugin smallfirst-echo-plugin:echo" in line
    assert "did you mean 'greeting'?" in line
    assert "\n" not in line


def test_wrong_option_type_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        load(_config(tmp_path, endpoint_options='repeat = "twice"'))
    line = ei.value.one_line()
    assert "'tiers[0].endpoints[0].options.repeat': Input should be a valid integer" in line
    assert "smallfirst-echo-plugin:echo" in line


def test_router_options_are_checked_by_the_router_model(tmp_path: Path) -> None:
    p = _config(tmp_path)
    p.write_text(p.read_text().replace('tier = "big"', 'tier = "big"\nlimit = 3'))
    with pytest.raises(ConfigError, match=r"unknown key 'routing\.options\.limit' \(options of router 'keyword'"):
        load(p)
    p.write_text(p.read_text().replace('words = ["prove"]\n', ""))
    with pytest.raises(ConfigError, match=r"'routing\.options\.words': Field required"):
        load(p)


def test_plugin_policy_from_its_table(tmp_path: Path) -> None:
    settings = load(_config(tmp_path, '\n[policies.deny-tier]\ntier = "big"\n'))
    (policy,) = plugin_policies(settings)
    req = ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": "x"}], body={})
    res = policy.check(req, Signals(), ("small", "big"))
    assert res.allowed == ("small",) and res.reasons == ("deny-tier: big",)
    assert plugin_policies(load(_config(tmp_path))) == []
    with pytest.raises(ConfigError, match=r"'policies\.deny-tier\.tier': Field required \(options of policy"):
        load(_config(tmp_path, "\n[policies.deny-tier]\n"))
    with pytest.raises(ConfigError) as ei:
        load(_config(tmp_path, "\n[policies.deny-tierz]\n"))
    assert "'policies.deny-tierz': unknown policy 'deny-tierz' — did you mean 'deny-tier'?" in ei.value.one_line()


def test_plugin_store_and_scorer(tmp_path: Path) -> None:
    settings = load(_config(tmp_path))
    settings = parse({**settings.model_dump(), "log": {"store": "memory", "options": {"limit": 5}}})
    assert store_name(settings) == "memory"
    store = store_factory(store_name(settings))(settings)
    assert type(store).__name__ == "MemoryStore" and getattr(store, "limit", None) == 5
    with pytest.raises(ConfigError, match=r"'log\.options\.limit': Input should be a valid integer"):
        parse({**settings.model_dump(), "log": {"store": "memory", "options": {"limit": "x"}}})
    scorer = scorer_factory("contains")({"case_sensitive": True})
    assert scorer.score({"expected": "Paris"}, "It is Paris.") == 1.0
    assert scorer.score({"expected": "Paris"}, "it is paris") == 0.0


def test_load_env_var_chooses_the_plugins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    try:
        monkeypatch.setenv(LOAD_ENV, "")
        reload_plugins()
        assert "echo-plugin" not in backend_names()
        with pytest.raises(ConfigError, match=r"unknown backend 'echo-plugin'"):
            load(_config(tmp_path))
        monkeypatch.setenv(LOAD_ENV, "smallfirst_echo_plugin")  # any spelling of the distribution name
        reload_plugins()
        assert "echo-plugin" in backend_names()
        monkeypatch.setenv(LOAD_ENV, "smallfirst-nope")
        reload_plugins()
        with pytest.raises(ConfigError, match=f"{LOAD_ENV} names smallfirst-nope, which is not an installed"):
            backend_names()
    finally:
        monkeypatch.delenv(LOAD_ENV)
        reload_plugins()


def test_plugin_scorer_in_eval_tasks_and_scorers() -> None:
    from smallfirst.evaluate.scorers import PluginScorer, build_scorers
    from smallfirst.evaluate.tasks import parse_task

    task = parse_task({"prompt": "Capital of France?", "expected": "Paris", "scorer": "contains"}, 1)
    assert task.scorer == "contains"
    scorers = build_scorers({"contains", "exact"}, options={"contains": {"case_sensitive": True}})
    assert isinstance(scorers["contains"], PluginScorer) and type(scorers["exact"]).__name__ == "ExactScorer"
    assert scorers["contains"].score(task.view(), "It is Paris.") == 1.0
    assert scorers["contains"].score(task.view(), "it is paris") == 0.0
    with pytest.raises(ConfigError, match=r"'scorers\.contains\.case_sensitiv'"):
        build_scorers({"contains"}, options={"contains": {"case_sensitiv": True}})


def test_a_score_outside_the_unit_interval_is_a_readable_error() -> None:
    from smallfirst.core.protocols import Scorer
    from smallfirst.evaluate.scorers import PluginScorer

    class Wild(Scorer):
        def score(self, task: Mapping[str, Any], answer: str) -> float:
            return 3.0

    with pytest.raises(ConfigError, match=r"scorer 'wild' returned 3\.0 for task 't1', outside \[0, 1\]"):
        PluginScorer(Wild(), "wild").score({"id": "t1"}, "x")
