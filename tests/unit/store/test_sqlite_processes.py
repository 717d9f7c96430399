"""The SQLite log opened by several processes at once (the workers of `smallfirst serve --workers N`)."""

from __future__ import annotations

import threading
from pathlib import Path

from smallfirst.store.migrations import SQLITE_MIGRATIONS
from smallfirst.store.sqlite import connect, migrate


def test_racing_migrations_apply_each_step_once(tmp_path: Path) -> None:
    path = str(tmp_path / "log.db")
    connect(path).close()  # the file exists in WAL mode; the schema is empty
    start = threading.Barrier(4)
    versions: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        conn = connect(path)
        try:
            start.wait()
            versions.append(migrate(conn))
        except BaseException as err:  # reported below
            errors.append(err)
        finally:
            conn.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and versions == [len(SQLITE_MIGRATIONS)] * 4
