"""The serve banner's per-endpoint status: ready, a missing key, a server not answering."""

from __future__ import annotations

import socket

import pytest

from smallfirst.cli.banner import banner_lines, key_env, probe, status
from smallfirst.config.loader import parse


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_status_of_each_kind_of_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    port = _closed_port()
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        up = listening.getsockname()[1]
        settings = parse({"tiers": [
            {"name": "local", "endpoints": [
                {"backend": "embedded"},
                {"backend": "openai_compat", "base_url": f"http://127.0.0.1:{up}/v1", "model": "m"},
                {"backend": "ollama", "base_url": f"http://127.0.0.1:{port}", "model": "llama3.2"}]},
            {"name": "frontier", "endpoints": [{"backend": "openai", "model": "gpt-5"}]}]})
        lines, _ = banner_lines(settings)
    assert lines[0].endswith("— ready (in-process)")
    assert lines[1].startswith("local/") and lines[1].endswith("— ready")
    assert f"not answering at 127.0.0.1:{port}" in lines[2]
    assert "→ remote" in lines[3] and lines[3].endswith("— missing: OPENAI_API_KEY not set")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert key_env(settings.tiers[1].endpoints[0]) == "OPENAI_API_KEY"
    assert not status(settings.tiers[1].endpoints[0], 0.01).startswith("missing")


def test_probe_reads_only_http_urls() -> None:
    assert probe("unix:///tmp/x.sock") is None
    assert probe("http://") is not None
