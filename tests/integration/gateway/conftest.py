from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from smallfirst.config.loader import parse
from smallfirst.server.app import Gateway, create_app
from smallfirst.store.sqlite import SQLiteStore
from tests.helpers.gateway import running

GatewayFactory = Callable[..., AbstractContextManager[tuple[str, Gateway]]]


@pytest.fixture
def gateway(tmp_path: Path) -> GatewayFactory:
    """``with gateway(config_dict) as (base_url, app):`` — a real uvicorn gateway on 127.0.0.1."""

    @contextmanager
    def start(cfg: dict[str, Any]) -> Iterator[tuple[str, Gateway]]:
        cfg = {**cfg, "log": {"path": str(tmp_path / "log.db"), "flush_interval_s": 0.01, **cfg.get("log", {})}}
        app = create_app(parse(cfg))
        with running(app) as url:
            yield url, app

    return start


def log_rows(app: Gateway) -> list[Any]:
    store = app.pipeline.store
    store.flush()
    return store.query()


def reopen_log(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(str(tmp_path / "log.db"))
