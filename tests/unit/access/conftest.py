"""A real PostgreSQL cluster for the shared-access tests (Debian's ``postgresql`` package)."""

from __future__ import annotations

import pytest

from tests.helpers import postgres


@pytest.fixture
def pg_url(pg_cluster: str) -> str:
    """An empty database on the session's cluster."""
    return postgres.fresh_database(pg_cluster)
