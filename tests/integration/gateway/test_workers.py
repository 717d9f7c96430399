"""`smallfirst serve --workers 2`: two real processes behind one port on 127.0.0.1.

Clients pinned to each worker (a keep-alive connection, matched to its worker's pid through the
kernel's socket table) check that both answer through the openai SDK, that every request has exactly
one log row, that a key's rate limit holds across the workers (not twice over), that a killed worker
is reported and restarted, and that SIGTERM stops the supervisor and both workers gracefully.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import psutil
import pytest

from smallfirst.access import KeyStore, Limits
from tests.helpers.gateway import free_port

CONFIG = """
[server]
shutdown_timeout_s = 10
[log]
path = "{db}"
flush_interval_s = 0.05
[access]
refresh_ms = 50
flush_interval_s = 0.05
[residency]
enabled = false
[[tiers]]
name = "local"
[[tiers.endpoints]]
backend = "fake"
model = "echo?latency_ms=5&chunk_ms=2"
price_input_per_mtok = 1.0
price_output_per_mtok = 2.0
"""
MSG = [{"role": "user", "content": "hello there"}]


def listeners(proc: psutil.Process, port: int) -> set[int]:
    """The pids of ``proc``'s workers listening on ``port``."""
    out = set()
    for child in proc.children():
        try:
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in child.net_connections("tcp")):
                out.add(child.pid)
        except psutil.Error:
            continue
    return out


def wait_workers(proc: subprocess.Popen[bytes], port: int, n: int, timeout: float = 90.0) -> list[int]:
    sup = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the gateway exited with {proc.returncode}"
        found = listeners(sup, port)
        if len(found) == n:
            return sorted(found)
        time.sleep(0.1)
    raise AssertionError(f"{n} workers did not come up")


def owner(workers: list[int], client_port: int, port: int) -> int | None:
    """The worker whose socket is the server end of the client's connection from ``client_port``."""
    for pid in workers:
        for c in psutil.Process(pid).net_connections("tcp"):
            if c.laddr.port == port and c.raddr and c.raddr.port == client_port:
                return pid
    return None


@contextmanager
def pinned(url: str, key: str, workers: list[int], port: int) -> Iterator[dict[int, httpx.Client]]:
    """One keep-alive client per worker: open connections until each worker holds one."""
    clients: list[httpx.Client] = []
    by_worker: dict[int, httpx.Client] = {}
    seen: set[int] = set()
    try:
        for _ in range(64):
            c = httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_connections=1),
                             headers={"Authorization": f"Bearer {key}"})
            clients.append(c)
            assert c.get("/v1/models").status_code == 200
            mine = established(port)
            new, seen = mine - seen, seen | mine
            assert len(new) == 1
            pid = owner(workers, new.pop(), port)
            if pid is not None:
                by_worker.setdefault(pid, c)
            if len(by_worker) == len(workers):
                break
        assert len(by_worker) == len(workers), "the kernel never gave a connection to every worker"
        yield by_worker
    finally:
        for c in clients:
            c.close()


def established(port: int) -> set[int]:
    """Local ports of this process's open connections to ``port``."""
    return {c.laddr.port for c in psutil.Process().net_connections("tcp")
            if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED}


def sdk(client: httpx.Client, url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, http_client=client)


def rows(db: Path) -> list[tuple[str, int, str | None]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT request_id, status, api_key_id FROM requests").fetchall()
    finally:
        conn.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill what is left of a gateway (a failed test): the workers, then the supervisor."""
    if proc.poll() is None:
        for child in psutil.Process(proc.pid).children():
            child.kill()
        proc.kill()
        proc.wait()


def spent(db: Path, key_id: str) -> int:
    conn = sqlite3.connect(db)
    try:
        n = conn.execute("SELECT SUM(requests) FROM access_usage WHERE key_id = ?", (key_id,)).fetchone()[0]
    finally:
        conn.close()
    return int(n or 0)


@pytest.mark.slow
def test_two_workers_share_the_port_the_log_and_rate_limits(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    (tmp_path / "smallfirst.toml").write_text(CONFIG.format(db=db))
    store = KeyStore(str(db))
    key, plain = store.create("plain", Limits())
    rkey, limited = store.create("limited", Limits(rpm=6))
    store.close()
    port = free_port()
    out, err = (tmp_path / "out.txt").open("wb"), (tmp_path / "err.txt").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "smallfirst.cli.main", "serve", "--config",
                             str(tmp_path / "smallfirst.toml"), "--port", str(port), "--workers", "2"],
                            stdout=out, stderr=err, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        workers = wait_workers(proc, port, 2)
        sent = 0
        with pinned(url, key, workers, port) as by_worker:
            held = established(port)
            for pid, client in by_worker.items():  # each worker answers on its own connection
                r = sdk(client, url, key).chat.completions.create(model="smallfirst/auto", messages=MSG)  # type: ignore[arg-type]
                assert r.choices[0].message.content == "echo: hello there", pid
                sent += 1
            # 6 requests a minute for the limited key, asked of the two workers in turn: 6 answered, not 12
            apis = [sdk(c, url, rkey) for c in by_worker.values()]
            t0 = time.monotonic()
            ok = limited_429 = 0
            for i in range(12):
                try:
                    apis[i % 2].chat.completions.create(model="smallfirst/auto", messages=MSG)  # type: ignore[arg-type]
                    ok += 1
                except openai.RateLimitError as e:
                    assert "limit of 6 requests per minute" in str(e)
                    limited_429 += 1
            refill = int((time.monotonic() - t0) / 10.0)  # 6/min refills one request every 10 s
            assert established(port) == held  # no reconnection: the requests really alternated between workers
            assert 6 <= ok <= 6 + refill and ok + limited_429 == 12
            sent += 12
            for client in by_worker.values():  # streamed and not, on both workers
                api = sdk(client, url, key)
                for _ in range(5):
                    r = api.chat.completions.create(model="smallfirst/auto", messages=MSG)  # type: ignore[arg-type]
                    assert r.choices[0].message.content == "echo: hello there"
                    chunks = list(api.chat.completions.create(model="smallfirst/auto", messages=MSG,  # type: ignore[arg-type]
                                                              stream=True))
                    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
                        "echo: hello there"
                    sent += 2
        plain_sent = sent - 12

        # every request has exactly one row (written by whichever worker served it)
        deadline = time.monotonic() + 10
        while len(rows(db)) < sent and time.monotonic() < deadline:
            time.sleep(0.05)
        logged = rows(db)
        assert len(logged) == sent and len({r[0] for r in logged}) == sent
        assert sum(1 for r in logged if r[2] == plain.id and r[1] == 200) == plain_sent
        assert sum(1 for r in logged if r[2] == limited.id and r[1] == 429) == limited_429
        while spent(db, plain.id) < plain_sent and time.monotonic() < deadline:  # saved every access.flush_interval_s
            time.sleep(0.05)

        # a killed worker is reported and replaced; the gateway keeps answering
        psutil.Process(workers[0]).kill()
        deadline = time.monotonic() + 90
        while True:
            now = wait_workers(proc, port, 2, timeout=max(1.0, deadline - time.monotonic()))
            if workers[0] not in now:
                break
            time.sleep(0.1)
        assert workers[1] in now
        r = httpx.post(url + "/v1/chat/completions", json={"model": "smallfirst/auto", "messages": MSG},
                       headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert r.status_code == 200
        sent += 1
        workers = now

        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        stop(proc)
        out.close()
        err.close()
    assert code == -signal.SIGTERM  # the supervisor re-raises the signal after both workers drained
    assert not any(psutil.pid_exists(p) for p in workers)
    stderr = (tmp_path / "err.txt").read_text()
    assert "exited with code -9; restarting it" in stderr, stderr
    assert "workers: 2" in (tmp_path / "out.txt").read_text()
    logged = rows(db)
    assert len(logged) == sent and len({r[0] for r in logged}) == sent
    assert spent(db, plain.id) == plain_sent + 1  # saved by both workers, and by the restarted one
    assert spent(db, limited.id) == ok  # the limited key's, settled in the shared state


@pytest.mark.slow
def test_workers_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    (tmp_path / "smallfirst.toml").write_text(CONFIG.format(db=db))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "smallfirst.cli.main", "serve", "--config",
                             str(tmp_path / "smallfirst.toml"), "--port", str(port), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    workers: list[psutil.Process] = []
    try:
        workers = [psutil.Process(p) for p in wait_workers(proc, port, 2)]
        r = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=30,
                       json={"model": "smallfirst/auto", "messages": MSG})
        assert r.status_code == 200
        proc.kill()  # no chance to stop its workers
        proc.wait()
        _, alive = psutil.wait_procs(workers, timeout=30)
        assert alive == []  # each worker noticed and stopped itself, gracefully: its row is saved
    finally:
        for w in workers:
            if w.is_running():
                w.kill()
        stop(proc)
    assert len(rows(db)) == 1
