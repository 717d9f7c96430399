from __future__ import annotations

import json
from pathlib import Path

import pytest

from smallfirst.access import KeyStore
from smallfirst.cli.main import main


def test_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "log.db")
    assert main(["keys", "create", "alice", "--budget-day", "2.5", "--rpm", "10", "--tiers", "local", "--db", db]) == 0
    out, err = capsys.readouterr()
    summary, key = out.strip().splitlines()
    assert key.startswith("sf-") and "$2.5/day, 10 req/min, tiers local" in summary and "not shown again" in err
    kid = summary.split()[1]
    assert main(["keys", "list", "--json", "--db", db]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["id"] == kid and row["prefix"] == key[:10] + "…" and not row["revoked"]
    assert key not in json.dumps(row)
    assert main(["keys", "revoke", "alice", "--db", db]) == 0
    assert f"revoked {kid}" in capsys.readouterr().out
    assert main(["keys", "list", "--json", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out) == []
    store = KeyStore(db)
    assert store.keys()[0].revoked is not None
    store.close()


def test_bad_input_is_one_line_and_nonzero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "log.db")
    assert main(["keys", "create", "x", "--tiers", "nope", "--db", db]) == 1
    assert "unknown tier(s) nope" in capsys.readouterr().err
    assert main(["keys", "revoke", "key_missing", "--db", db]) == 1
    err = capsys.readouterr().err
    assert err.startswith("smallfirst: error: no API key") and err.count("\n") == 1
