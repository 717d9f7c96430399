"""Runtime state: what each runtime's status answers mean, the learned load/service times, the tier order and
the latency-budget policy (no network, no clocks: states are built by hand)."""

from __future__ import annotations

import pytest

from smallfirst.backends.fake import FakeBackend
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.errors import BadRequestError
from smallfirst.core.tiers import Endpoint, Tier
from smallfirst.core.types import FREE, Capabilities, ChatRequest, Signals
from smallfirst.policy.latency_budget import HEADER, LatencyBudgetError, LatencyBudgetPolicy
from smallfirst.runtime import EndpointRuntime, RuntimeState, parse, preference


def rt(**state: object) -> EndpointRuntime:
    r = EndpointRuntime("ollama_native:m", "ollama", "http://127.0.0.1:1", "m")
    r.update(RuntimeState("ollama", **({"reachable": True, "last_checked": 1.0} | state)))  # type: ignore[arg-type]
    return r


def test_ollama_answers_read_into_state() -> None:
    tags = {"models": [{"name": "m:latest", "size": 4_000_000_000,
                        "details": {"quantization_level": "Q4_K_M", "parameter_size": "7B"}}]}
    assert parse.ollama_tags(tags, "m") == {"size_bytes": 4_000_000_000, "quantization": "Q4_K_M", "parameters": "7B"}
    assert "not pulled" in parse.ollama_tags({"models": []}, "m")["error"]
    ps = {"models": [{"name": "m:latest", "size": 5, "size_vram": 4, "expires_at": "2099-01-01T00:00:00Z"}]}
    assert parse.ollama_ps(ps, "m") == {"loaded": True, "size_vram": 4, "expires_at": "2099-01-01T00:00:00Z",
                                        "size_bytes": 5}
    assert parse.ollama_ps({"models": []}, "m") == {"loaded": False}
    show = {"capabilities": ["completion", "vision"], "parameters": "num_ctx 8192",
            "model_info": {"general.architecture": "gemma3", "gemma3.context_length": 131072}}
    assert parse.ollama_show(show, 4096) == {"tools": False, "images": True, "context_window": 8192}


def test_llamacpp_lmstudio_vllm_answers() -> None:
    props = {"total_slots": 4, "default_generation_settings": {"n_ctx": 8192}, "modalities": {"vision": True}}
    assert parse.llamacpp_props(props) == {"slots": 4, "context_window": 8192, "images": True}
    slots = [{"id": 0, "is_processing": True}, {"id": 1, "is_processing": False}]
    assert parse.llamacpp_slots(slots) == {"slots": 2, "busy": 1}
    models = {"data": [{"id": "q", "type": "vlm", "state": "not-loaded", "max_context_length": 32768,
                        "quantization": "Q4_K_M"}]}
    assert parse.lmstudio_models(models, "q") == {"loaded": False, "quantization": "Q4_K_M",
                                                  "context_window": 32768, "images": True}
    text = ('vllm:num_requests_running{engine="0",model_name="q"} 3.0\n'
            'vllm:num_requests_waiting{engine="0",model_name="q"} 2.0\n'
            'vllm:num_requests_waiting{engine="0",model_name="other"} 9.0\n')
    assert parse.vllm_metrics(text, "q") == {"busy": 3, "queued": 2}
    assert parse.vllm_metrics("# nothing\n", "q") == {}


def test_cold_model_waits_for_its_load_then_learns_it() -> None:
    r = rt(loaded=False, size_bytes=4_000_000_000)
    assert r.expected_wait_ms() == pytest.approx(4000.0)  # 4 GB at the assumed 1 GB/s
    r.memory_gbps = 0.5  # the slower of disk and memory bounds it
    assert r.expected_wait_ms() == pytest.approx(8000.0)
    r.observe(1500.0, ok=True)  # the first request on the cold model: its latency is the load
    assert r.load_ms == 1500.0 and r.state.loaded is True and r.expected_wait_ms() == 0.0
    r.observe(100.0, ok=True)
    r.observe(200.0, ok=True)
    assert r.service_ms == pytest.approx(130.0)  # EWMA, alpha 0.3
    r.update(RuntimeState("ollama", reachable=True, loaded=False, last_checked=2.0))
    assert r.estimated_load_ms() == 1500.0  # learned wins over the size estimate
    assert rt(loaded=False).expected_wait_ms() == 5000.0  # size not reported (LM Studio): a flat guess


def test_queue_and_busy_slots_add_service_times() -> None:
    r = rt(slots=2, busy=2, queued=1)
    r.service_ms = 100.0
    assert r.expected_wait_ms() == pytest.approx(200.0)  # one queued ahead + wait for a slot
    assert rt(slots=2, busy=1).expected_wait_ms() == 0.0
    assert rt(reachable=False).expected_wait_ms() == float("inf")
    assert EndpointRuntime("x", "vllm", "u", "m").expected_wait_ms() == 0.0  # never polled: nothing against it


def test_runtime_capabilities_apply_and_are_cached() -> None:
    base = Capabilities(context_window=4096, tools=True)
    r = rt(context_window=32768, images=True, tools=False)
    got = r.capabilities(base)
    assert (got.context_window, got.images, got.tools) == (32768, True, False)
    assert r.capabilities(base) is got  # no allocation on the request path
    assert rt().capabilities(base) is base
    ep = Endpoint(FakeBackend(EndpointConfig(backend="fake", model="echo")), FREE, True, "local",
                  overrides={"images": False}, learned=r.capabilities)
    assert ep.capabilities.images is False and ep.capabilities.context_window == 32768  # config still wins


def endpoint(name: str) -> Endpoint:
    return Endpoint(FakeBackend(EndpointConfig(backend="fake", model=name, name=name)), FREE, True, "local")


def test_balanced_tier_prefers_warm_idle_endpoint() -> None:
    a, b = endpoint("a"), endpoint("b")
    cold, warm = rt(loaded=False), rt(loaded=True)
    tier = Tier("local", [a, b], "balanced", prefer=preference([cold, warm]))
    assert [tier.order()[0].backend.name for _ in range(4)] == ["b", "b", "b", "b"]
    cold.update(RuntimeState("ollama", reachable=True, loaded=True, last_checked=3.0))
    assert [tier.order()[0].backend.name for _ in range(4)] == ["a", "b", "a", "b"]
    plain = Tier("local", [a, b], "balanced")
    assert [plain.order()[0].backend.name for _ in range(2)] == ["a", "b"]


def request(**headers: str) -> ChatRequest:
    return ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": "hi"}], body={},
                       headers=headers)


def policy(expected: dict[str, float | None], **kw: object) -> LatencyBudgetPolicy:
    local = Tier("local", [endpoint("a")])
    cloud = Tier("cloud", [Endpoint(FakeBackend(EndpointConfig(backend="fake", model="c", name="c")), FREE,
                                    False, "us")])
    return LatencyBudgetPolicy([local, cloud], expected.get, **kw)  # type: ignore[arg-type]


def test_budget_skips_a_slow_local_tier() -> None:
    p = policy({"a": 5000.0})
    res = p.check(request(**{HEADER: "1000"}), Signals(), ["local", "cloud"])
    assert res.allowed == ("cloud",) and "skipped local ~5000 ms" in res.reasons[0]
    assert p.check(request(**{HEADER: "9000"}), Signals(), ["local", "cloud"]).allowed == ("local", "cloud")
    assert p.check(request(), Signals(), ["local", "cloud"]).allowed == ("local", "cloud")  # no budget
    assert policy({"a": 5000.0}, default_ms=100).check(request(), Signals(), ["local", "cloud"]).allowed == ("cloud",)
    assert policy({}).check(request(**{HEADER: "1"}), Signals(), ["local", "cloud"]).allowed == ("local", "cloud")
    from dataclasses import replace

    pinned = replace(request(**{HEADER: "1000"}), model="smallfirst/local")
    assert p.check(pinned, Signals(), ["local", "cloud"]).allowed == ("local", "cloud")  # the pin wins


def test_sensitive_request_waits_or_fails_closed() -> None:
    sig = Signals(sensitive_classes=("pii",))
    res = policy({"a": 5000.0}).check(request(**{HEADER: "1000"}), sig, ["local", "cloud"])
    assert res.allowed == ("local", "cloud") and "sensitive (pii) waits locally" in res.reasons[0]
    with pytest.raises(LatencyBudgetError) as err:
        policy({"a": 5000.0}, sensitive="fail").check(request(**{HEADER: "1000"}), sig, ["local", "cloud"])
    assert err.value.status == 503 and "may not leave" in err.value.reason and err.value.retry_after_s == 5.0


def test_bad_budget_header_is_a_400() -> None:
    with pytest.raises(BadRequestError) as err:
        policy({}).check(request(**{HEADER: "soon"}), Signals(), ["local"])
    assert err.value.param == HEADER


def test_budget_per_api_key() -> None:
    from dataclasses import replace

    p = policy({"a": 5000.0}, default_ms=9000, by_key={"team-fast": 1000})
    fast = replace(request(), api_key_id="team-fast")
    assert p.check(fast, Signals(), ["local", "cloud"]).allowed == ("cloud",)
    assert p.check(replace(request(), api_key_id="other"), Signals(), ["local", "cloud"]).allowed == ("local", "cloud")
    assert p.check(replace(fast, headers={HEADER: "9000"}), Signals(), ["local", "cloud"]).allowed == ("local", "cloud")
