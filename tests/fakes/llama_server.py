"""Run a real ``python -m llama_cpp.server`` process on 127.0.0.1 (free port) for integration tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def llama_server(model: Path, *, alias: str = "local-model", n_ctx: int = 1024, n_threads: int = 1,
                 start_timeout_s: float = 90.0) -> Iterator[str]:
    """Yield the OpenAI base URL (``http://127.0.0.1:PORT/v1``) of a running llama-cpp-python server."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", alias,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(n_threads)]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONWARNINGS": ""})
        try:
            _wait_ready(proc, f"http://127.0.0.1:{port}/v1/models", start_timeout_s, log)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _wait_ready(proc: subprocess.Popen[bytes], url: str, timeout_s: float, log: IO[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    log.seek(0)
    tail = log.read()[-2000:]
    raise RuntimeError(f"llama_cpp.server did not become ready (exit code {proc.poll()}): "
                       f"{tail.decode('utf-8', 'replace')}")
