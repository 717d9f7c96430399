"""Upstream API keys never appear in responses, logs, metrics, errors or the request log.

Two planted keys go to a fake OpenAI server that rejects them and — like the real API — echoes the
key it got in its 401 message, so every error path has a chance to leak them.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from smallfirst.cli.main import main as cli
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.gateway.conftest import GatewayFactory

MSG = [{"role": "user", "content": "hello"}]


@pytest.fixture
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(model="up", api_key="the-only-accepted-key").in_thread() as srv:
        yield srv


@pytest.mark.slow
def test_planted_upstream_keys_never_leak(gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    plain = "PlantedUpstreamSecret" + secrets.token_hex(12)  # not key-shaped: only the exact scrub catches it
    shaped = "sk-proj-" + secrets.token_hex(20)  # shaped like an OpenAI key
    monkeypatch.setenv("SF_TEST_PLAIN_KEY", plain)
    monkeypatch.setenv("SF_TEST_SHAPED_KEY", shaped)
    cfg = {"tiers": [
        {"name": "local", "endpoints": [{"backend": "openai_compat", "model": "up", "base_url": upstream.base_url,
                                         "api_key_env": "SF_TEST_PLAIN_KEY", "location": "local", "retries": 1,
                                         "breaker_failures": 3}]},
        {"name": "mid", "endpoints": [{"backend": "openai", "model": "up", "base_url": upstream.base_url,
                                       "api_key_env": "SF_TEST_SHAPED_KEY", "location": "eu"}]},
        {"name": "frontier", "endpoints": [{"backend": "fake", "model": "echo", "location": "us"}]},
    ]}
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    with gateway(cfg) as (url, app), httpx.Client(base_url=url, timeout=10) as c:
        for model in ("smallfirst/auto", "smallfirst/local", "smallfirst/mid", "up"):
            for stream in (False, True):
                r = c.post("/v1/chat/completions", json={"model": model, "messages": MSG, "stream": stream})
                outputs += [str(r.status_code), str(r.headers), r.text]
        for path in ("/v1/models", "/healthz", "/metrics", "/admin/api/health", "/admin/api/summary", "/nope"):
            r = c.get(path)
            outputs += [str(r.headers), r.text]
        outputs.append(repr(app.engine.endpoints()))
        app.pipeline.store.flush()
    for args in (["keys", "list", "--json", "--db", str(tmp_path / "log.db")], ["config", "show"]):
        assert cli(args) == 0
    out, err = capfd.readouterr()
    outputs += [out, err, caplog.text]
    outputs += [p.read_bytes().decode("latin-1") for p in tmp_path.iterdir() if p.name.startswith("log.db")]

    # the leak vector is real: the upstream got both keys and echoed them in its 401 answers
    sent = {rec.headers.get("Authorization", "") for rec in upstream.requests}
    assert f"Bearer {plain}" in sent and f"Bearer {shaped}" in sent
    blob = "\n".join(outputs)
    assert "upstream_auth_failed" in blob and "Incorrect API key provided" in blob  # the errors did surface
    for planted in (plain, shaped):
        assert planted not in blob
        assert planted[-16:] not in blob  # not even a recognisable tail
