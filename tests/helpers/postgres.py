"""A throwaway PostgreSQL cluster (Debian's ``postgresql`` package) on 127.0.0.1 under a temp dir.

Runs ``initdb`` / ``pg_ctl`` as the ``postgres`` (or ``nobody``) user when started as root, because
PostgreSQL refuses to run as root. ``bindir()`` is None when the binaries are absent.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    hits = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return hits[-1].parent if hits else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _runner() -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pw = pwd.getpwnam(name)
            return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists")


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster; yield the URL of its ``postgres`` database (user ``smallfirst``, trust auth)."""
    bins = bindir()
    if bins is None:
        raise RuntimeError("PostgreSQL binaries not found")
    as_user = _runner()
    tmp = Path(tempfile.mkdtemp(prefix="smallfirst-pg-"))
    if as_user:
        os.chown(tmp, as_user["user"], as_user["group"])
    data = tmp / "data"
    port = _free_port()

    def run(*cmd: str) -> None:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, check=False, **as_user)
        if done.returncode != 0:
            log = (tmp / "server.log").read_text() if (tmp / "server.log").exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr}{done.stdout}{log}")

    try:
        run(str(bins / "initdb"), "-D", str(data), "-U", "smallfirst", "--auth=trust", "-E", "UTF8", "--no-sync")
        opts = f"-F -p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        run(str(bins / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(tmp / "server.log"), "-w", "-t", "60",
            "start")
        try:
            yield f"postgresql://smallfirst@127.0.0.1:{port}/postgres"
        finally:
            run(str(bins / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fresh_database(url: str) -> str:
    """Create an empty database on the cluster at ``url``; return its URL."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return url.rsplit("/", 1)[0] + "/" + name
