"""CLI unit tests keep plan's measurement cache (smallfirst.sizing.measured) in their own folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path_factory.mktemp("smallfirst-cache")
    monkeypatch.setenv("SMALLFIRST_CACHE_DIR", str(path))
    return path
