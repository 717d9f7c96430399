"""N gateway processes behind one port: ``smallfirst serve --workers N`` (N > 1).

The ``serve`` process becomes a small supervisor; it serves nothing itself:

* **One port, balanced by the kernel.** On Linux each worker binds its own listening socket to the
  port with ``SO_REUSEPORT`` and the kernel spreads new connections over them; the supervisor keeps a
  bound (not listening) socket on the port so a restarted worker gets it back — bound before it allows
  port sharing, so a port another program (or another gateway) holds is an error, never shared.
  Elsewhere the supervisor listens once and the workers inherit that socket.
* **Workers** are fresh interpreters (``python -m smallfirst.server.workers``) that load the same
  settings (:mod:`smallfirst.server.factory`, with ``server.workers = N`` so they share budgets and
  rate limits: :mod:`smallfirst.access.host`) and run the HTTP server (``[server] http``). A worker
  listens only once its app has started, and then tells the supervisor through a pipe.
* **Shutdown:** SIGTERM or SIGINT to the supervisor is passed to every worker as SIGTERM — each stops
  accepting, drains its requests for up to ``server.shutdown_timeout_s`` and flushes its log rows and
  spend; a second signal makes them stop at once. The supervisor then re-raises the signal, as a
  single gateway process does.
* **A dead supervisor** (SIGKILL): each worker notices within half a second and stops as on SIGTERM.
* **A dead worker** is reported on stderr and restarted (its reservations released first); more than
  :data:`MAX_RESTARTS` deaths within :data:`RESTART_WINDOW_S` stop the gateway with exit code 1. A
  worker that fails while the gateway starts stops it too (its error is printed above).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

ENV_WORKER = "SMALLFIRST_WORKER"  # JSON: index, ready_fd, socket_fd (no SO_REUSEPORT), log_level
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
REUSE_PORT = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def bind(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not listening yet)."""
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                      flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass
class Worker:
    index: int
    proc: subprocess.Popen[bytes]
    ready: bool = False


@dataclass
class Supervisor:
    """Start ``n`` workers on ``sock``'s port and keep them running until a stop signal."""

    n: int
    sock: socket.socket
    env: Mapping[str, str]  # the workers' environment (settings: smallfirst.server.factory)
    shutdown_timeout_s: float
    log_level: str = "warning"
    release: Callable[[int], None] | None = None  # frees what a dead worker held (its reservations)
    echo: Callable[[str, bool], None] = field(default=lambda line, err: print(
        line, file=sys.stderr if err else sys.stdout, flush=True))
    workers: dict[int, Worker] = field(default_factory=dict)
    _signals: list[int] = field(default_factory=list)
    _deaths: list[float] = field(default_factory=list)

    def run(self) -> tuple[int, int | None]:
        """Supervise until stopped; returns (exit code, the stop signal or None)."""
        r, w = os.pipe()
        previous = {s: signal.signal(s, self._on_signal) for s in STOP_SIGNALS}
        try:
            code = self._supervise(r, w)
        finally:
            self._stop_all()
            for s, h in previous.items():
                signal.signal(s, h)
            os.close(r)
            os.close(w)
        return code, (self._signals[0] if self._signals else None)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self._signals.append(sig)
        if len(self._signals) > 1:  # a second signal: the workers stop without waiting for their requests
            self._signal_all(signal.SIGINT)

    def _spawn(self, index: int, ready_fd: int) -> Worker:
        opts: dict[str, Any] = {"index": index, "ready_fd": ready_fd, "log_level": self.log_level,
                                "socket_fd": None if REUSE_PORT else self.sock.fileno()}
        fds = (ready_fd,) if REUSE_PORT else (ready_fd, self.sock.fileno())
        proc = subprocess.Popen([sys.executable, "-m", "smallfirst.server.workers"], pass_fds=fds,
                                env={**self.env, ENV_WORKER: json.dumps(opts)})
        return Worker(index, proc)

    def _supervise(self, r: int, w: int) -> int:
        for i in range(self.n):
            self.workers[i] = self._spawn(i, w)
        all_ready = False
        buf = b""
        while not self._signals:
            readable, _, _ = select.select([r], [], [], 0.2)
            if readable:
                buf += os.read(r, 4096)
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    worker = self.workers.get(int(line.split()[0]))
                    if worker is not None:
                        worker.ready = True
                        if all_ready:
                            self.echo(f"worker {worker.index} is back (pid {worker.proc.pid})", False)
            if not all_ready and all(wk.ready for wk in self.workers.values()):
                all_ready = True
                pids = ", ".join(str(wk.proc.pid) for wk in self.workers.values())
                self.echo(f"{self.n} workers ready (pids {pids})", False)
            for i, worker in list(self.workers.items()):
                rc = worker.proc.poll()
                if rc is None or self._signals:
                    continue
                if not all_ready and not worker.ready:
                    self.echo(f"error: worker {i} exited with code {rc} while the gateway was starting; "
                              "stopping", True)
                    return 1
                now = time.monotonic()
                self._deaths = [t for t in self._deaths if now - t < RESTART_WINDOW_S] + [now]
                if len(self._deaths) > MAX_RESTARTS:
                    self.echo(f"error: worker {i} (pid {worker.proc.pid}) exited with code {rc}, the "
                              f"{len(self._deaths)}th worker death within {RESTART_WINDOW_S:g} s; stopping", True)
                    return 1
                self.echo(f"warning: worker {i} (pid {worker.proc.pid}) exited with code {rc}; restarting it", True)
                if self.release is not None:
                    self.release(worker.proc.pid)
                self.workers[i] = self._spawn(i, w)
        return 0

    def _signal_all(self, sig: int) -> None:
        for worker in self.workers.values():
            worker.proc.send_signal(sig)  # a no-op for a worker that already exited

    def _stop_all(self) -> None:
        """SIGTERM to every worker; wait for their graceful shutdown (bounded), then kill what is left."""
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_timeout_s + 15.0
        for i, worker in self.workers.items():
            try:
                rc = worker.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                rc = worker.proc.wait()
                self.echo(f"warning: worker {i} (pid {worker.proc.pid}) did not stop in time and was killed", True)
            if rc not in (0, -signal.SIGTERM, -signal.SIGINT):
                self.echo(f"warning: worker {i} (pid {worker.proc.pid}) stopped with exit code {rc}", True)


def supervise(n: int, host: str, port: int, env: Mapping[str, str], *, shutdown_timeout_s: float,
              log_level: str = "warning", release: Callable[[int], None] | None = None,
              on_bound: Callable[[int], None] | None = None) -> tuple[int, int | None]:
    """Bind ``host:port`` (``port`` 0: a free one, passed to ``on_bound``), run ``n`` workers on it until
    SIGTERM/SIGINT. Returns (exit code, stop signal or None)."""
    sock = bind(host, port, reuse_port=False)  # fails if anything holds the port, another gateway's workers too
    try:
        if REUSE_PORT:  # set after the bind: the workers' sockets may join this one, nobody else's could
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        else:
            sock.listen(2048)
        bound = int(sock.getsockname()[1])
        if on_bound is not None:
            on_bound(bound)
        worker_env = {**env}
        server = json.loads(worker_env.get("SMALLFIRST_SERVER") or "{}")
        worker_env["SMALLFIRST_SERVER"] = json.dumps({**server, "host": host, "port": bound, "workers": n})
        return Supervisor(n, sock, worker_env, shutdown_timeout_s, log_level, release).run()
    finally:
        sock.close()


# ---- one worker process ----------------------------------------------------------------------------


def _notify_started(server: Any, fd: int, index: int) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.01)
    os.write(fd, f"{index} {os.getpid()}\n".encode())


def _orphan_watch(parent: int) -> None:
    """A supervisor killed without its chance to stop the workers (SIGKILL, OOM): stop this one gracefully
    rather than keep serving the port unsupervised."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def worker_main() -> None:
    """Entry point of a worker (``python -m smallfirst.server.workers``, started by the supervisor)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor stops workers (SIGTERM); the HTTP server takes over
    threading.Thread(target=_orphan_watch, args=(os.getppid(),), name="smallfirst-orphan-watch", daemon=True).start()
    opts = json.loads(os.environ[ENV_WORKER])
    from smallfirst.server.app import create_app
    from smallfirst.server.factory import settings_from_env
    from smallfirst.server.runner import http_server

    settings = settings_from_env()
    app = create_app(settings)
    s = settings.server
    fd = opts.get("socket_fd")
    sock = socket.socket(fileno=int(fd)) if fd is not None else bind(s.host, s.port, reuse_port=True)
    server = http_server(app, s, host=s.host, port=s.port, log_level=opts.get("log_level", "warning"))
    threading.Thread(target=_notify_started, args=(server, int(opts["ready_fd"]), int(opts["index"])),
                     daemon=True).start()
    server.run(sockets=[sock])  # listens once the app has started; re-raises a stop signal after draining
    if not server.started:
        sys.exit(3)


if __name__ == "__main__":
    worker_main()
