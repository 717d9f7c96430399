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


class Cluster:
    """A running throwaway cluster; ``stop()`` / ``start()`` simulate an outage."""

    def __init__(self, bins: Path, tmp: Path, as_user: dict[str, Any]) -> None:
        self.bins, self.tmp, self.as_user = bins, tmp, as_user
        self.data = tmp / "data"
        self.port = _free_port()
        self.url = f"postgresql://smallfirst@127.0.0.1:{self.port}/postgres"

    def run(self, *cmd: str) -> None:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.tmp, check=False, **self.as_user)
        if done.returncode != 0:
            log = (self.tmp / "server.log").read_text() if (self.tmp / "server.log").exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr}{done.stdout}{log}")

    def init(self) -> None:
        self.run(str(self.bins / "initdb"), "-D", str(self.data), "-U", "smallfirst", "--auth=trust", "-E", "UTF8",
                 "--no-sync")

    def start(self) -> None:
        opts = (f"-F -p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c full_page_writes=off")
        self.run(str(self.bins / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.tmp / "server.log"),
                 "-w", "-t", "60", "start")

    def stop(self) -> None:
        self.run(str(self.bins / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    bins = bindir()
    if bins is None:
        raise RuntimeError("PostgreSQL binaries not found")
    as_user = _runner()
    tmp = Path(tempfile.mkdtemp(prefix="smallfirst-pg-"))
    try:
        if as_user:
            os.chown(tmp, as_user["user"], as_user["group"])
        c = Cluster(bins, tmp, as_user)
        c.init()
        c.start()
        try:
            yield c
        finally:
            with contextlib.suppress(RuntimeError):
                c.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster; yield the URL of its ``postgres`` database (user ``smallfirst``, trust auth)."""
    with running_cluster() as c:
        yield c.url


def fresh_database(url: str) -> str:
    """Create an empty database on the cluster at ``url``; return its URL."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return url.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def database(given: str | None) -> Iterator[str]:
    """``given`` (a URL), or an empty database on a throwaway cluster (for the bench scripts)."""
    if given:
        yield given
        return
    if bindir() is None:
        raise SystemExit("PostgreSQL binaries not found: apt-get install postgresql, or pass --pg-url")
    with cluster() as url:
        yield fresh_database(url)
