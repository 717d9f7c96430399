"""The lean HTTP/1.1 server, driven over real sockets: framing, keep-alive, pipelining, 100-continue,
request bodies, HEAD, malformed input, client disconnects, app failures and graceful shutdown."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from smallfirst.server.lean import LeanServer
from tests.helpers.gateway import free_port, running

Scope = dict[str, Any]


async def _read_all(receive: Any) -> bytes:
    body = b""
    while True:
        m = await receive()
        assert m["type"] == "http.request"
        body += m["body"]
        if not m["more_body"]:
            return body


class App:
    """Echo (JSON with content-length), /stream (chunked), /fail (raises), /half (never finishes),
    /wait (waits for the client to go away), /slow (answers after 0.3 s)."""

    def __init__(self) -> None:
        self.disconnected = threading.Event()
        self.lifespan: list[str] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                m = await receive()
                self.lifespan.append(m["type"])
                await send({"type": m["type"] + ".complete"})
                if m["type"] == "lifespan.shutdown":
                    return
        path = scope["path"]
        if path == "/fail":
            raise RuntimeError("boom")
        if path == "/wait":
            await _read_all(receive)
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
            assert (await receive())["type"] == "http.disconnect"
            self.disconnected.set()
            return
        if path == "/slow":
            await asyncio.sleep(0.3)
        body = await _read_all(receive)
        if path == "/stream":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})
            for i in range(3):
                await send({"type": "http.response.body", "body": b"data: %d\n\n" % i, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if path == "/half":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            return
        out = b"%s %s %s|" % (scope["method"].encode(), scope["raw_path"], scope["query_string"]) + body
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})


@pytest.fixture
def app() -> App:
    return App()


@pytest.fixture
def url(app: App) -> Iterator[str]:
    with running(app) as u:
        yield u


def _raw(url: str, data: bytes, *, read_until: bytes = b"", timeout: float = 5.0) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while not read_until or read_until not in out:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            out += chunk
        return out


def test_json_answer_keep_alive_and_lifespan(app: App, url: str) -> None:
    with httpx.Client(base_url=url) as c:
        r1 = c.post("/echo?x=1", content=b"hello")
        r2 = c.post("/echo", content=b"again")
    assert (r1.status_code, r1.text) == (201, "POST /echo x=1|hello")
    assert r2.text == "POST /echo |again"
    assert r1.headers["content-length"] == str(len(r1.text)) and "date" in r1.headers
    assert app.lifespan == ["lifespan.startup"]


def test_stream_is_chunked_and_arrives_whole(url: str) -> None:
    with httpx.Client(base_url=url) as c, c.stream("POST", "/stream", content=b"{}") as r:
        assert r.headers["transfer-encoding"] == "chunked"
        assert b"".join(r.iter_bytes()) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"


def test_pipelined_requests_answered_in_order(url: str) -> None:
    req = b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\n"
    out = _raw(url, req + b"a" + req + b"b", read_until=b"|b")
    assert out.index(b"|a") < out.index(b"|b") and out.count(b"HTTP/1.1 201 Created") == 2


def test_expect_100_continue_and_a_chunked_request_body(url: str) -> None:
    head = (b"POST /echo HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ntransfer-encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    out = _raw(url, head, read_until=b"hello world")
    assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201")
    assert out.endswith(b"|hello world")


def test_large_body_is_read_whole(url: str) -> None:
    big = b"x" * 1_000_000
    r = httpx.post(url + "/echo", content=big)
    assert r.status_code == 201 and r.content.endswith(big)


def test_head_has_no_body_and_http10_closes(url: str) -> None:
    out = _raw(url, b"HEAD /echo HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 201") and out.endswith(b"\r\n\r\n") and b"connection: close" in out
    out = _raw(url, b"POST /echo HTTP/1.0\r\ncontent-length: 2\r\n\r\nhi")  # the server closes: recv ends
    assert out.endswith(b"|hi")


def test_malformed_request_is_a_400_and_a_close(url: str) -> None:
    out = _raw(url, b"NOT HTTP AT ALL\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 Bad Request") and b"connection: close" in out


def test_app_failures_are_500s_and_the_server_goes_on(url: str) -> None:
    assert httpx.post(url + "/fail").status_code == 500
    assert _raw(url, b"POST /half HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n").startswith(b"HTTP/1.1 200")
    assert httpx.post(url + "/echo", content=b"ok").status_code == 201


def test_client_going_away_is_an_http_disconnect(app: App, url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"POST /wait HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
        assert b"data: 1" in s.recv(65536)
    assert app.disconnected.wait(5)


def test_idle_keep_alive_connection_is_closed(app: App) -> None:
    port = free_port()
    server = LeanServer(app, port=port, keep_alive_s=0.2)
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    try:
        while not server.started:
            time.sleep(0.01)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
            first = s.recv(65536)
            assert first.startswith(b"HTTP/1.1 201")
            assert s.recv(65536) == b""  # closed by the server once idle
    finally:
        server.should_exit = True
        t.join(10)


def test_shutdown_lets_a_running_request_finish_then_runs_the_lifespan_shutdown(app: App) -> None:
    port = free_port()
    server = LeanServer(app, port=port, graceful_timeout_s=5)
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.01)
    got: dict[str, Any] = {}

    def call() -> None:
        got["r"] = httpx.post(f"http://127.0.0.1:{port}/slow", content=b"late", timeout=5)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.1)
    server.should_exit = True
    caller.join(10)
    t.join(10)
    assert got["r"].status_code == 201 and got["r"].text.endswith("|late")
    assert got["r"].headers["connection"] == "close"
    assert app.lifespan == ["lifespan.startup", "lifespan.shutdown"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/echo", timeout=2)


_RAISING_HANDLER = """
import signal
from smallfirst.server.lean import LeanServer

async def app(scope, receive, send):
    while True:
        m = await receive()
        if m["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return

def interrupt(*_):
    raise TimeoutError("interrupted by SIGALRM")

signal.signal(signal.SIGALRM, interrupt)
signal.setitimer(signal.ITIMER_REAL, 0.5)
try:
    LeanServer(app, host="127.0.0.1", port=0).run()
except TimeoutError as err:
    print("raised:", err)
"""


def test_an_exception_from_a_signal_handler_stops_the_server_and_is_raised() -> None:
    # uvloop only logs what a Python signal handler raises; the server must not run on (pytest-timeout's
    # SIGALRM could never interrupt a test serving in the main thread)
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _RAISING_HANDLER], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "raised: interrupted by SIGALRM" in done.stdout
