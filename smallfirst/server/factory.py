"""Build the gateway from the environment — for worker processes and for ASGI servers that take an import
string (``uvicorn --factory smallfirst.server.factory:app_from_env``).

``SMALLFIRST_CONFIG`` names the ``smallfirst.toml`` to load (unset or empty: ./smallfirst.toml if present,
else the defaults); ``SMALLFIRST_SERVER`` is a JSON object of ``[server]`` settings that override the
file's (e.g. ``{"port": 9000, "workers": 4}``). Run several such processes on one log file only with
``server.workers`` set to their number: that is what makes them share budgets and rate limits
(docs/deploy.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from smallfirst.config.loader import load
from smallfirst.config.schema import ServerConfig, Settings
from smallfirst.core.errors import ConfigError

if TYPE_CHECKING:
    from smallfirst.server.app import Gateway

ENV_CONFIG = "SMALLFIRST_CONFIG"
ENV_SERVER = "SMALLFIRST_SERVER"


def with_server(settings: Settings, **fields: Any) -> Settings:
    """``settings`` with some ``[server]`` fields replaced (validated)."""
    server = ServerConfig.model_validate({**settings.server.model_dump(), **fields})
    return settings.model_copy(update={"server": server})


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    settings = load(env.get(ENV_CONFIG) or None)
    raw = env.get(ENV_SERVER)
    if raw:
        try:
            fields = json.loads(raw)
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            raise ConfigError(f"{ENV_SERVER} must be a JSON object of [server] settings, not {raw[:80]!r}",
                              hint='e.g. {"port": 9000, "workers": 4}')
        settings = with_server(settings, **fields)
    return settings


def app_from_env() -> Gateway:
    """The ASGI app for the settings the environment names."""
    from smallfirst.server.app import create_app

    return create_app(settings_from_env())
