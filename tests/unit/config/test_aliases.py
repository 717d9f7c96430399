"""[aliases]: validated at config load (routes that exist, "did you mean"), resolved by a plain lookup."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.config.aliases import resolver, routes
from smallfirst.config.loader import parse
from smallfirst.core.errors import ConfigError

TIERS: dict[str, Any] = {"tiers": [
    {"name": "local", "endpoints": [{"backend": "embedded"}]},
    {"name": "frontier", "endpoints": [{"backend": "openai", "model": "gpt-4o-mini", "name": "oa"}]}]}


def test_every_kind_of_route_is_a_valid_target() -> None:
    s = parse({**TIERS, "aliases": {"gpt-4o": "smallfirst/auto", "claude-sonnet-4-5": "smallfirst/frontier",
                                    "small": "smollm2-135m", "big": "oa", "auto": "smallfirst/auto",
                                    "text-embedding-3-small": "all-minilm-l6-v2"}})
    resolve = resolver(s.aliases)
    assert resolve("gpt-4o") == "smallfirst/auto" and resolve("auto") == "smallfirst/auto"
    assert resolve("small") == "smollm2-135m" and resolve("smallfirst/local") == "smallfirst/local"
    assert routes(s) == ["smallfirst/auto", "smallfirst/local", "smallfirst/frontier", "embedded:smollm2-135m",
                         "smollm2-135m", "gpt-4o-mini", "oa", "all-minilm-l6-v2"]


@pytest.mark.parametrize(("aliases", "message", "hint"), [
    ({"gpt-4o": "smallfirst/frontiers"}, "no such route", "did you mean 'smallfirst/frontier'?"),
    ({"gpt-4o": "nothing-like-it-at-all"}, "no such route", "routes here: smallfirst/auto"),
    ({"a": "b", "b": "smallfirst/auto"}, "names another alias", "'smallfirst/auto'"),
    ({"smallfirst/auto": "smallfirst/local"}, "already a model this gateway serves", "remove the alias"),
    ({" ": "smallfirst/local"}, "alias name is empty", ""),
])
def test_bad_aliases_are_config_errors(aliases: dict[str, str], message: str, hint: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse({**TIERS, "aliases": aliases}, "smallfirst.toml")
    assert message in err.value.message and err.value.message.startswith("smallfirst.toml")
    assert hint in err.value.hint


def test_no_aliases_resolve_to_the_name_itself() -> None:
    assert resolver({})("gpt-4o") == "gpt-4o"
