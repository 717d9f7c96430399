"""Fixtures shared across the suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import postgres


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[str]:
    """One real PostgreSQL cluster (Debian's ``postgresql`` package) for the whole test session."""
    if postgres.bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    with postgres.cluster() as url:
        yield url
