from __future__ import annotations

import json
from pathlib import Path

import pytest

from smallfirst.cache.store import CacheStore, Entry
from smallfirst.cli.main import main


def test_stats_and_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "smallfirst.toml"
    cfg.write_text(f'[log]\npath = "{tmp_path / "log.db"}"\n')
    store = CacheStore(str(tmp_path / "log-cache.db"), 100, 10**6)  # beside log.path by default
    for tenant, key in (("k1", "a"), ("k1", "b"), ("k2", "a")):
        store.put(Entry(tenant, key, b"answer", "mid", "m", 0.5, 1.0), now=1e12, ttl_s=60)
    store.hit("k1", "a", now=1e12, saved=0.5)
    store.close()
    assert main(["cache", "stats", "--config", str(cfg), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert (s["entries"], s["tenants"], s["hits"], s["saved_usd"]) == (3, 2, 1, 0.5)
    assert s["path"] == str(tmp_path / "log-cache.db")
    assert main(["cache", "clear", "--config", str(cfg), "--tenant", "k1", "--yes"]) == 0
    assert "deleted 2 entries" in capsys.readouterr().out
    assert main(["cache", "stats", "--config", str(cfg)]) == 0
    assert "1 entries" in capsys.readouterr().out
