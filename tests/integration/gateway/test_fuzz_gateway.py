"""Property-based fuzzing of the gateway (hypothesis), in process over ASGI.

Whatever arrives — near-valid chat bodies, arbitrary JSON, raw bytes, odd methods, paths and keys —
the gateway answers within a bound, never with a 500, and every error is OpenAI-shaped
(``{"error": {"message", "type", "param", "code"}}``); every stream ends with ``[DONE]`` or an
error event.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from smallfirst.access import KeyStore, Limits
from smallfirst.config.loader import parse
from smallfirst.server.app import Gateway, create_app

TIMEOUT_S = 10.0
# SMALLFIRST_FUZZ_EXAMPLES=5000 for a deeper run than CI's
FUZZ = settings(max_examples=int(os.environ.get("SMALLFIRST_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=30)
anyjson = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c,
                                                                                     max_size=4), max_leaves=12)
texts = st.text(max_size=120) | st.sampled_from([
    "my email is jane.doe@example.com", "card 4111 1111 1111 1111", "ssn 078-05-1120", "classify: great movie",
    "x" * 5000, "", " ", "\u0000\ud7ff\ue000", "Translate to French: good morning"])
part = st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "input_audio"]) | anyjson},
                             optional={"text": texts | anyjson, "image_url": anyjson})
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "robot"]) | anyjson},
    optional={"content": texts | st.lists(part, max_size=3) | anyjson, "tool_calls": anyjson, "name": anyjson})
TOOL = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {
    "x": {"type": "integer"}}}}}]
FORMATS = [{"type": "json_object"}, {"type": "text"}, {"type": "json_schema", "json_schema": {
    "name": "x", "schema": {"type": "object", "properties": {"label": {"enum": ["a", "b"]}}}}}]
good_message = st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant", "user"]),
                                     "content": texts | st.lists(st.fixed_dictionaries(
                                         {"type": st.just("text"), "text": texts}), min_size=1, max_size=2)})
good_bodies = st.fixed_dictionaries(
    {"model": st.sampled_from(["smallfirst/auto", "smallfirst/local", "smallfirst/mid", "echo", "mid"]),
     "messages": st.lists(good_message, min_size=1, max_size=3).map(lambda ms: [*ms, {"role": "user",
                                                                                     "content": "hi"}])},
    optional={"stream": st.booleans(), "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
              "max_tokens": st.integers(1, 50), "temperature": st.floats(0, 2),
              "response_format": st.sampled_from(FORMATS), "tools": st.just(TOOL),
              "tool_choice": st.sampled_from(["auto", "none"]), "logprobs": st.booleans(),
              "top_logprobs": st.integers(0, 5), "metadata": st.dictionaries(st.text(max_size=8), st.text(max_size=8))})
fuzzy_bodies = st.fixed_dictionaries(
    {"model": st.sampled_from(["smallfirst/auto", "smallfirst/local", "smallfirst/mid", "smallfirst/nope",
                               "echo", "gpt-4o", ""]) | anyjson,
     "messages": st.lists(message, max_size=4) | anyjson},
    optional={"stream": st.booleans() | anyjson,
              "stream_options": st.fixed_dictionaries({}, optional={"include_usage": st.booleans() | anyjson})
              | anyjson,
              "max_tokens": st.integers(-5, 10**7) | anyjson, "max_completion_tokens": st.integers(-1, 50) | anyjson,
              "temperature": st.floats(-1, 3) | anyjson, "response_format": st.sampled_from(FORMATS) | anyjson,
              "tools": st.just(TOOL) | anyjson, "tool_choice": st.sampled_from(["auto", "none"]) | anyjson,
              "logprobs": st.booleans() | anyjson, "top_logprobs": st.integers(-1, 30) | anyjson,
              "n": anyjson, "metadata": anyjson, "user": anyjson, "stop": anyjson})
# valid bodies, fuzzy ones, and valid ones with one field replaced by arbitrary JSON
bodies = good_bodies | fuzzy_bodies | st.tuples(good_bodies, st.text(max_size=20) | st.sampled_from(
    ["model", "messages", "stream", "stream_options", "max_tokens", "tools", "response_format"]), anyjson).map(
    lambda t: {**t[0], t[1]: t[2]})


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, str]]:
    path = str(Path(tmp_path_factory.mktemp("fuzz")) / "log.db")
    store = KeyStore(path)
    key, _ = store.create("fuzzer", Limits(budget_day_usd=1000.0, tiers=("local", "mid")))
    store.close()
    app = create_app(parse({"log": {"path": path}, "access": {"refresh_ms": 0}, "tiers": [
        {"name": "local", "endpoints": [{"backend": "fake", "model": "echo?context_window=2000"}]},
        {"name": "mid", "endpoints": [{"backend": "fake", "model": "echo?reply=mid", "location": "eu",
                                       "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0}]},
    ]}))
    yield app, key
    asyncio.run(app.aclose())


async def _request(app: Gateway, method: str, path: str, headers: dict[str, str], content: bytes) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # dict scope vs MutableMapping
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        return await asyncio.wait_for(c.request(method, path, headers=headers, content=content), TIMEOUT_S)


def call(app: Gateway, method: str, path: str, content: bytes = b"", auth: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if auth is not None:
        headers["authorization"] = auth
    return asyncio.run(_request(app, method, path, headers, content))


def check(r: httpx.Response) -> None:
    event(f"HTTP {r.status_code}")  # the spread shows in --hypothesis-show-statistics
    assert r.status_code != 500 and r.status_code < 600, r.text
    ctype = r.headers.get("content-type", "")
    if r.status_code >= 400:
        body: Any = r.json()
        err = body["error"]
        assert set(err) == {"message", "type", "param", "code"}, body
        assert isinstance(err["message"], str) and err["message"] and isinstance(err["type"], str)
        return
    if ctype.startswith("text/event-stream"):
        events = [line[6:] for line in r.text.split("\n") if line.startswith("data: ")]
        assert events, r.text
        for e in events[:-1]:
            assert "choices" in json.loads(e) or "usage" in json.loads(e)
        assert events[-1] == "[DONE]" or "error" in json.loads(events[-1])
    elif ctype.startswith("application/json"):
        r.json()


@FUZZ
@given(body=bodies, auth=st.sampled_from(["valid", "valid", "valid", "none", "wrong"]))
def test_chat_bodies(fuzz_app: tuple[Gateway, str], body: dict[str, Any], auth: str) -> None:
    app, key = fuzz_app
    token = {"valid": f"Bearer {key}", "none": None, "wrong": "Bearer sf-nope"}[auth]
    r = call(app, "POST", "/v1/chat/completions", json.dumps(body).encode(), token)
    check(r)
    if auth != "valid":
        assert r.status_code == 401


@FUZZ
@given(raw=st.binary(max_size=300) | anyjson.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_bytes_and_json(fuzz_app: tuple[Gateway, str], raw: bytes) -> None:
    app, key = fuzz_app
    r = call(app, "POST", "/v1/chat/completions", raw, f"Bearer {key}")
    check(r)
    assert r.status_code in (400, 404, 413)


@FUZZ
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
       path=st.sampled_from(["/v1/chat/completions", "/v1/models", "/healthz", "/metrics", "/admin/api/summary",
                             "/admin/api/health", "/dashboard", "/", "/v1", "/v1/completions"])
       | st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="?#%"),
                 max_size=30).map(lambda p: "/" + p.lstrip("/")),  # "//x" would be a host to the client
       auth=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40))
def test_methods_paths_and_headers(fuzz_app: tuple[Gateway, str], method: str, path: str, auth: str) -> None:
    app, _ = fuzz_app
    r = call(app, method, path, b"", auth)
    if method != "HEAD":
        check(r)
    assert r.status_code != 500
