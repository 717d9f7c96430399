"""The smaller endpoints, driven by the official SDKs on 127.0.0.1: ``/v1/completions``,
``/v1/messages/count_tokens``, ``GET /v1/models/{id}``, ``n > 1``, ``[aliases]``, ``metadata`` and
``system_fingerprint``; on the real embedded tier (SmolLM2) and on protocol-faithful fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from smallfirst.access import KeyStore, Limits
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.gateway.conftest import GatewayFactory, log_rows

EMBEDDED: dict[str, Any] = {"name": "local", "endpoints": [{"backend": "embedded"}]}
MSG: Any = [{"role": "user", "content": "Say hi."}]


@pytest.fixture
def upper(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    monkeypatch.setenv("SF_TEST_OPENAI_KEY", "sk-test")
    with FakeOpenAI(model="gpt-up", api_key="sk-test").in_thread() as srv:
        yield srv


def two_tiers(srv: FakeOpenAI, **extra: Any) -> dict[str, Any]:
    return {"tiers": [EMBEDDED, {"name": "frontier", "endpoints": [
        {"backend": "openai", "model": "gpt-up", "base_url": srv.base_url, "api_key_env": "SF_TEST_OPENAI_KEY",
         "price_input_per_mtok": 1,
         "price_output_per_mtok": 2}]}], **extra}


def oa(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)


# ---- /v1/completions --------------------------------------------------------------------------------


def test_completions_on_the_embedded_tier(gateway: GatewayFactory) -> None:
    with gateway({"tiers": [EMBEDDED]}) as (url, app):
        client = oa(url)
        r = client.completions.create(model="smallfirst/auto", prompt="Name a colour.", max_tokens=8, temperature=0)
        assert r.object == "text_completion" and r.id.startswith("cmpl-")
        assert r.model == "smollm2-135m" and r.system_fingerprint and r.system_fingerprint.startswith("fp_")
        assert len(r.choices) == 1 and r.choices[0].index == 0 and r.choices[0].text.strip()
        assert r.choices[0].finish_reason in ("stop", "length")
        assert r.usage is not None and 0 < r.usage.completion_tokens <= 8
        default = client.completions.create(model="smallfirst/local", prompt=["Count to fifty."], temperature=0)
        assert default.usage is not None and default.usage.completion_tokens <= 16  # OpenAI's default max_tokens
        lp = client.completions.create(model="smallfirst/auto", prompt="Hi", max_tokens=4, logprobs=2)
        logprobs = lp.choices[0].logprobs
        assert logprobs is not None and logprobs.tokens and logprobs.token_logprobs and logprobs.top_logprobs
        assert len(logprobs.tokens) == len(logprobs.token_logprobs) == len(logprobs.text_offset or [])
        assert "".join(logprobs.tokens) == lp.choices[0].text
        chunks = list(client.completions.create(model="smallfirst/auto", prompt="Name a colour.", max_tokens=8,
                                                temperature=0, stream=True, stream_options={"include_usage": True}))
        assert all(c.object == "text_completion" for c in chunks)
        text = "".join(c.choices[0].text for c in chunks if c.choices)
        assert text.strip() and text == r.choices[0].text  # same greedy answer, streamed
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")
        rows = log_rows(app)
    assert len(rows) == 4 and all(r.status == 200 and r.tier == "local" for r in rows)


def test_completions_upstream_gets_a_chat_request(gateway: GatewayFactory, upper: FakeOpenAI) -> None:
    with gateway(two_tiers(upper)) as (url, _):
        r = oa(url).completions.create(model="smallfirst/frontier", prompt="ping", max_tokens=5, stop=["\n"],
                                       n=2)
    sent = upper.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.body["messages"] == [{"role": "user", "content": "ping"}] and "prompt" not in sent.body
    assert sent.body["max_tokens"] == 5 and sent.body["stop"] == ["\n"] and sent.body["n"] == 2
    assert [c.text for c in r.choices] == ["echo: ping", "echo: ping (1)"] and [c.index for c in r.choices] == [0, 1]
    assert r.model == "gpt-up" and r.system_fingerprint == "fp_fake"


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"prompt": "a", "suffix": "b"}, "suffix"), ({"prompt": "a", "echo": True}, "echo"),
    ({"prompt": "a", "best_of": 3}, "best_of"), ({"prompt": ["a", "b"]}, "prompt"), ({"prompt": [1, 2]}, "prompt"),
    ({"prompt": "a", "logprobs": 9}, "logprobs"), ({"prompt": "a", "n": 2, "stream": True}, "n"),
])
def test_completions_refuses_what_a_chat_template_cannot_do(gateway: GatewayFactory, kwargs: dict[str, Any],
                                                            param: str) -> None:
    cfg = {"tiers": [{"name": "local", "endpoints": [{"backend": "fake"}]}]}
    with gateway(cfg) as (url, _), pytest.raises(openai.BadRequestError) as err:
        oa(url).completions.create(model="smallfirst/auto", **kwargs)
    body: Any = err.value.body
    assert body["param"] == param and body["message"]


# ---- /v1/messages/count_tokens -----------------------------------------------------------------------


def test_count_tokens_uses_the_embedded_tokenizer(gateway: GatewayFactory) -> None:
    with gateway({"tiers": [EMBEDDED]}) as (url, _):
        client = anthropic.Anthropic(base_url=url, api_key="x", max_retries=0)
        counted = client.messages.count_tokens(model="smallfirst/auto", system="Be brief.",
                                               messages=[{"role": "user", "content": "Name three colours."}])
        one = client.messages.count_tokens(model="smallfirst/local", messages=[
            {"role": "user", "content": [{"type": "text", "text": "Name three colours."}]}])
        two = client.messages.count_tokens(model="smallfirst/local", messages=[
            {"role": "user", "content": [{"type": "text", "text": "Name three colours."},
                                         {"type": "text", "text": "And three animals, please."}]}])
        tools = client.messages.count_tokens(model="smallfirst/local", messages=[
            {"role": "user", "content": "Name three colours."}], tools=[
            {"name": "lookup", "description": "Look a colour up", "input_schema": {"type": "object"}}])
        streamed = list(oa(url).chat.completions.create(
            model="smallfirst/auto", max_tokens=2, stream=True, stream_options={"include_usage": True},
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name three colours."}]))
        answered = client.messages.create(model="smallfirst/auto", max_tokens=2, system="Be brief.",
                                          messages=[{"role": "user", "content": "Name three colours."}])
        turns: Any = [{"role": "user", "content": "Weather in Paris?"},
                      {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "weather",
                                                         "input": {"city": "Paris"}}]},
                      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]}]
        weather: Any = [{"name": "weather", "description": "Weather of a city", "input_schema": {
            "type": "object", "properties": {"city": {"type": "string"}}}}]
        loop = client.messages.count_tokens(model="smallfirst/local", messages=turns, tools=weather)
        loop_answer = client.messages.create(model="smallfirst/local", max_tokens=2, messages=turns, tools=weather)
    assert counted.input_tokens > 5 and two.input_tokens > one.input_tokens  # text parts are all counted
    # SmolLM2's chat template does not render tool definitions: the model never sees them, and the count says so
    assert tools.input_tokens == one.input_tokens
    assert loop.input_tokens == loop_answer.usage.input_tokens  # a tool loop, rendered as the backend renders it
    usage = streamed[-1].usage
    assert usage is not None and usage.prompt_tokens == counted.input_tokens  # the same template and tokenizer
    assert answered.usage.input_tokens == counted.input_tokens


def test_count_tokens_estimates_for_a_remote_tier_and_checks_keys(gateway: GatewayFactory, upper: FakeOpenAI,
                                                                  tmp_path: Path) -> None:
    store = KeyStore(str(tmp_path / "log.db"))
    key, _ = store.create("one", Limits())
    store.close()
    with gateway(two_tiers(upper, access={"refresh_ms": 0})) as (url, _):
        good = anthropic.Anthropic(base_url=url, api_key=key, max_retries=0)
        r = good.messages.count_tokens(model="smallfirst/frontier", messages=[{"role": "user", "content": "x" * 400}])
        assert r.input_tokens == 100  # ≈4 characters per token
        with pytest.raises(anthropic.NotFoundError):
            good.messages.count_tokens(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(anthropic.BadRequestError):
            good.messages.count_tokens(model="smallfirst/auto", messages=[])
        with pytest.raises(anthropic.AuthenticationError):
            anthropic.Anthropic(base_url=url, api_key="wrong", max_retries=0).messages.count_tokens(
                model="smallfirst/auto", messages=[{"role": "user", "content": "hi"}])
    assert not any(q.path.endswith("/chat/completions") for q in upper.requests)  # a count calls no model


# ---- GET /v1/models/{id}, the 404 hint, [aliases] ----------------------------------------------------


def test_models_retrieve_and_route_hint(gateway: GatewayFactory) -> None:
    cfg = {"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]}],
           "aliases": {"gpt-4o": "smallfirst/auto", "claude-sonnet-4-5": "smallfirst/local", "auto": "smallfirst/auto"}}
    with gateway(cfg) as (url, _):
        client = oa(url)
        m = client.models.retrieve("smallfirst/auto")
        assert m.id == "smallfirst/auto" and m.object == "model"
        assert client.models.retrieve("gpt-4o").owned_by == "smallfirst alias of smallfirst/auto"
        listed = {x.id: x.owned_by for x in client.models.list()}
        assert listed["claude-sonnet-4-5"] == "smallfirst alias of smallfirst/local" and "echo" in listed
        with pytest.raises(openai.NotFoundError) as err:
            client.models.retrieve("smallfirst/atuo")
        body: Any = err.value.body
        assert body["code"] == "model_not_found" and "smallfirst/auto" in body["message"]
        r = httpx.post(url + "/v1/chat/completion", json={})
        assert r.status_code == 404 and "POST /v1/chat/completions" in r.json()["error"]["message"]
        assert "did you mean /v1/chat/completions" in r.json()["error"]["message"]
        r = httpx.post(url + "/chat/completions", json={})
        assert "did you mean /v1/chat/completions? (the API lives under /v1" in r.json()["error"]["message"]


def test_aliases_route_requests_and_the_answer_names_the_model(gateway: GatewayFactory, upper: FakeOpenAI) -> None:
    cfg = two_tiers(upper, aliases={"gpt-4o": "smallfirst/frontier", "auto": "smallfirst/auto",
                                    "claude-sonnet-4-5": "gpt-up"})
    with gateway(cfg) as (url, app):
        client = oa(url)
        r = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG)
        assert r.headers["x-smallfirst-tier"] == "frontier" and r.parse().model == "gpt-up"
        a = anthropic.Anthropic(base_url=url, api_key="x", max_retries=0).messages.create(
            model="claude-sonnet-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
        assert a.model == "gpt-up"
        auto = client.chat.completions.with_raw_response.create(model="auto", messages=MSG, max_tokens=4)
        assert auto.headers["x-smallfirst-tier"] in ("local", "frontier")
        rows = log_rows(app)
    assert [r.requested_model for r in rows] == ["gpt-4o", "claude-sonnet-4-5", "auto"]


# ---- n > 1, metadata, system_fingerprint --------------------------------------------------------------


def test_n_choices_from_a_capable_upstream(gateway: GatewayFactory, upper: FakeOpenAI) -> None:
    with gateway(two_tiers(upper)) as (url, app):
        client = oa(url)
        r = client.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=MSG, n=3)
        answer = r.parse()
        assert r.headers["x-smallfirst-tier"] == "frontier"  # the embedded tier cannot answer n > 1
        assert [c.index for c in answer.choices] == [0, 1, 2]
        assert [c.message.content for c in answer.choices] == ["echo: Say hi.", "echo: Say hi. (1)",
                                                               "echo: Say hi. (2)"]
        assert upper.requests[-1].body["n"] == 3
        with pytest.raises((openai.BadRequestError, openai.PermissionDeniedError)) as pinned:  # the engine's call
            client.chat.completions.create(model="smallfirst/local", messages=MSG, n=2)
        assert "local cannot do n=2" in str(pinned.value)
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="smallfirst/auto", messages=MSG, n=2, stream=True)
        assert log_rows(app)[0].status == 200


def test_n_refused_when_no_tier_can(gateway: GatewayFactory) -> None:
    with gateway({"tiers": [EMBEDDED]}) as (url, _), pytest.raises(openai.BadRequestError) as err:
        oa(url).chat.completions.create(model="smallfirst/auto", messages=MSG, n=2)
    body: Any = err.value.body
    assert body["param"] == "n" and "n=2" in body["message"]


def test_n_allowed_by_a_capability_override(gateway: GatewayFactory, upper: FakeOpenAI) -> None:
    cfg = {"tiers": [{"name": "mid", "endpoints": [{"backend": "openai_compat", "model": "gpt-up",
                                                    "base_url": upper.base_url, "api_key_env": "SF_TEST_OPENAI_KEY",
                                                    "capabilities": {"choices": True}}]}]}
    with gateway(cfg) as (url, _):
        r = oa(url).chat.completions.create(model="smallfirst/auto", messages=MSG, n=2)
    assert len(r.choices) == 2


def test_metadata_forwarded_without_the_gateways_own_keys(gateway: GatewayFactory, upper: FakeOpenAI) -> None:
    cfg = {"tiers": [{"name": "mid", "endpoints": [
        {"backend": "openai_compat", "model": "gpt-up", "base_url": upper.base_url,
         "api_key_env": "SF_TEST_OPENAI_KEY"}]}, two_tiers(upper)["tiers"][1]]}
    meta = {"team": "search", "smallfirst_contract": "{}", "task": "code"}
    with gateway(cfg) as (url, _):
        client = oa(url)
        client.chat.completions.create(model="smallfirst/mid", messages=MSG, metadata=meta)
        compat = upper.requests[-1].body
        client.chat.completions.create(model="smallfirst/frontier", messages=MSG, metadata=meta)
        no_store = upper.requests[-1].body
        client.chat.completions.create(model="smallfirst/frontier", messages=MSG, metadata=meta, store=True)
        stored = upper.requests[-1].body
    assert compat["metadata"] == {"team": "search"}
    assert "metadata" not in no_store  # OpenAI refuses metadata without store: true
    assert stored["metadata"] == {"team": "search"} and stored["store"] is True


def test_system_fingerprint_local_is_stable_and_upstreams_pass_through(gateway: GatewayFactory,
                                                                       upper: FakeOpenAI) -> None:
    cfg = {"tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]},
                     two_tiers(upper)["tiers"][1]]}
    with gateway(cfg) as (url, _):
        client = oa(url)
        a = client.chat.completions.create(model="smallfirst/local", messages=MSG)
        b = client.chat.completions.create(model="smallfirst/local", messages=MSG)
        chunks = list(client.chat.completions.create(model="smallfirst/local", messages=MSG, stream=True))
        up = client.chat.completions.create(model="smallfirst/frontier", messages=MSG)
    assert a.system_fingerprint and a.system_fingerprint.startswith("fp_sf_")
    assert a.system_fingerprint == b.system_fingerprint
    assert {c.system_fingerprint for c in chunks} == {a.system_fingerprint}
    assert up.system_fingerprint == "fp_fake"


def test_an_embedding_alias_reaches_the_built_in_model(gateway: GatewayFactory) -> None:
    cfg = {"tiers": [{"name": "local", "endpoints": [{"backend": "fake"}]}],
           "aliases": {"text-embedding-3-small": "all-minilm-l6-v2"}}
    with gateway(cfg) as (url, _):
        client = oa(url)
        r = client.embeddings.create(model="text-embedding-3-small", input=["a cat", "a dog"])
        assert len(r.data) == 2 and len(r.data[0].embedding) == 384
        assert client.models.retrieve("text-embedding-3-small").owned_by == "smallfirst alias of all-minilm-l6-v2"


def test_agents_sdk_model_string_needs_the_auto_alias(gateway: GatewayFactory) -> None:
    """The Agents SDK's MultiProvider splits a model string at its first '/': ``smallfirst/auto`` is provider
    ``smallfirst`` (an error); the alias ``auto`` is the fix (openai-agents, where it is installed)."""
    agents = pytest.importorskip("agents")
    cfg = {"tiers": [{"name": "local", "endpoints": [{"backend": "fake"}]}], "aliases": {"auto": "smallfirst/auto"}}
    with gateway(cfg) as (url, app):

        async def ask(model: str) -> Any:
            async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
                provider = agents.MultiProvider(openai_client=client, openai_use_responses=False)
                agent = agents.Agent(name="a", instructions="Answer briefly.", model=model)
                return await agents.Runner.run(agent, "ping", run_config=agents.RunConfig(
                    model_provider=provider, tracing_disabled=True))

        with pytest.raises(agents.exceptions.UserError, match="Unknown prefix: smallfirst"):
            asyncio.run(ask("smallfirst/auto"))
        result = asyncio.run(ask("auto"))
        assert "ping" in result.final_output
        rows = log_rows(app)
    assert rows[-1].requested_model == "auto" and rows[-1].tier == "local"
