"""A real PostgreSQL cluster for the shared-access tests (Debian's ``postgresql`` package)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import postgres


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[str]:
    if postgres.bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    with postgres.cluster() as url:
        yield url


@pytest.fixture
def pg_url(pg_cluster: str) -> str:
    """An empty database on the session's cluster."""
    return postgres.fresh_database(pg_cluster)
