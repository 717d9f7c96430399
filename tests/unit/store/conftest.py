"""Stores under test: SQLite (a file in tmp) and a real PostgreSQL cluster started for the session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smallfirst.store.sqlite import SQLiteStore
from tests.helpers import postgres

StoreFactory = Callable[..., Any]


@pytest.fixture(params=["sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """A factory of stores on ONE database (call it twice for two replicas); closes them all after the test."""
    opened: list[Any] = []
    if request.param == "sqlite":
        path = str(tmp_path / "log.db")

        def make(**kw: Any) -> Any:
            opened.append(SQLiteStore(path, **kw))
            return opened[-1]
    else:
        from smallfirst.store.postgres import PostgresStore

        url = postgres.fresh_database(request.getfixturevalue("pg_cluster"))

        def make(**kw: Any) -> Any:
            opened.append(PostgresStore(url, **kw))
            return opened[-1]
    yield make
    for s in opened:
        s.close()
