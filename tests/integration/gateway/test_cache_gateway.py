"""The response cache through the real gateway, driven by the openai SDK, with a counting fake upstream.

A repeat is answered from the cache (upstream not called, ``x-smallfirst-cache: hit``, a log row with
tier ``cache`` and cost 0 that says what it saved); request headers and ``metadata.smallfirst_cache``
bypass it; tenants (gateway keys) never share entries; sensitive answers are not kept by default; a
stream hit replays as a stream; entries expire (an injected clock, no sleeps).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from smallfirst.access import KeyStore, Limits
from smallfirst.cache import ResponseCache, open_store
from smallfirst.config.loader import parse
from smallfirst.dashboard.residency import residency_evidence
from smallfirst.pipeline import build_pipeline
from smallfirst.server.app import Gateway
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.gateway import running
from tests.integration.gateway.conftest import GatewayFactory, log_rows

MSG: list[Any] = [{"role": "user", "content": "Classify the sentiment: the delivery was late again"}]
EMAIL: list[Any] = [{"role": "user", "content": "Draft a reply to jane.doe@example.com about her invoice"}]


@pytest.fixture
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(model="gpt-4o-mini").in_thread() as srv:
        yield srv


def cfg(upstream: FakeOpenAI, **cache: Any) -> dict[str, Any]:
    return {"tiers": [{"name": "mid", "endpoints": [{"backend": "openai_compat", "model": "gpt-4o-mini",
                                                     "base_url": upstream.base_url, "price_input_per_mtok": 1.0,
                                                     "price_output_per_mtok": 2.0}]}],
            "cache": {"enabled": True, **cache}}


def client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def ask(c: openai.OpenAI, messages: list[Any] = MSG, **kw: Any) -> tuple[str, str | None]:
    raw = c.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=messages, **kw)
    return raw.parse().choices[0].message.content or "", raw.headers.get("x-smallfirst-cache")


def test_a_repeat_is_served_from_the_cache_and_logged_as_saved(gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    with gateway(cfg(upstream)) as (url, app):
        c = client(url)
        first, second = ask(c), ask(c)
        rows = log_rows(app)
        scraped = httpx.get(url + "/metrics", timeout=10).text
    assert first[1] == "miss" and second == (first[0], "hit")
    assert len(upstream.requests) == 1
    served, hit = rows
    assert served.tier == "mid" and served.cost_usd > 0
    assert hit.tier == "cache" and hit.endpoint == "cache" and hit.cost_usd == 0 and hit.status == 200
    assert f"saved {served.cost_usd:.8f} USD" in hit.reason and [a.location for a in hit.attempts] == ["local"]
    for line in ('smallfirst_cache_lookups_total{result="hit"} 1.0', 'smallfirst_cache_lookups_total{result="miss"} '
                 '1.0', "smallfirst_cache_entries 1.0", f"smallfirst_cache_saved_usd_total {served.cost_usd!r}"):
        assert line in scraped, line


def test_headers_and_metadata_bypass(gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    with gateway(cfg(upstream)) as (url, _):
        c = client(url)
        assert ask(c, extra_headers={"Cache-Control": "no-store"})[1] == "bypass"  # not stored either
        assert ask(c)[1] == "miss"
        assert ask(c, extra_headers={"Cache-Control": "no-cache"})[1] == "bypass"  # fresh answer, stored
        assert ask(c, metadata={"smallfirst_cache": "off"})[1] == "bypass"
        assert ask(c, metadata={"smallfirst_cache": "refresh"})[1] == "bypass"
        assert ask(c)[1] == "hit"
        assert ask(c, temperature=0.7)[1] == "bypass"  # sampled: cache.cache_sampled is off
        assert ask(c, max_tokens=5)[1] == "miss"  # another sampling parameter: another entry
        with pytest.raises(openai.BadRequestError) as bad:
            ask(c, metadata={"smallfirst_cache": "sometimes"})
    assert len(upstream.requests) == 7
    assert bad.value.body["param"] == "metadata.smallfirst_cache"  # type: ignore[index]


def test_tenants_do_not_share_entries(gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path) -> None:
    keys = KeyStore(str(tmp_path / "log.db"))
    alice, _ = keys.create("alice", Limits())
    bob, _ = keys.create("bob", Limits())
    keys.close()
    with gateway(cfg(upstream)) as (url, _):
        a, b = client(url, alice), client(url, bob)
        assert [ask(a)[1], ask(b)[1], ask(a)[1], ask(b)[1]] == ["miss", "miss", "hit", "hit"]
    assert len(upstream.requests) == 2


def test_sensitive_answers_are_not_cached_unless_allowed_and_then_per_key(
        gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path) -> None:
    with gateway(cfg(upstream)) as (url, app):
        c = client(url)
        assert [ask(c, EMAIL)[1], ask(c, EMAIL)[1]] == ["bypass", "bypass"]
        assert app.pipeline.cache is not None and app.pipeline.cache.store.stats(0)["entries"] == 0
    assert len(upstream.requests) == 2
    keys = KeyStore(str(tmp_path / "log.db"))
    alice, _ = keys.create("alice", Limits())
    bob, _ = keys.create("bob", Limits())
    keys.close()
    with gateway(cfg(upstream, store_sensitive=True, tenant="team", path=str(tmp_path / "c2.db"))) as (url, app):
        a, b = client(url, alice), client(url, bob)
        assert [ask(a)[1], ask(b)[1]] == ["miss", "hit"]  # one shared tenant for plain requests
        assert [ask(a, EMAIL)[1], ask(a, EMAIL)[1], ask(b, EMAIL)[1]] == ["miss", "hit", "miss"]  # own key only
        app.pipeline.store.flush()
        evidence = residency_evidence(app.pipeline.store, 0.0, time.time() + 60)
    by = {(s["tier"], s["location"]): s["requests"] for s in evidence["served_by"]}
    assert by[("cache", "local")] == 1 and evidence["left_host"] == 0  # the sensitive hit: served on this host


def test_a_stream_hit_replays_as_a_stream(gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    with gateway(cfg(upstream)) as (url, app):
        c = client(url)
        texts, states = [], []
        for _ in range(2):
            raw = c.chat.completions.with_raw_response.create(model="smallfirst/auto", messages=MSG, stream=True)
            states.append(raw.headers.get("x-smallfirst-cache"))
            texts.append("".join(ch.choices[0].delta.content or "" for ch in raw.parse() if ch.choices))
        plain = ask(c)
        rows = log_rows(app)
    assert states == ["miss", "hit"] and texts[0] == texts[1] and texts[0].startswith("echo:")
    assert plain == (texts[0], "hit")  # a streamed answer serves a plain request too
    assert len(upstream.requests) == 1
    assert [r.tier for r in rows] == ["mid", "cache", "cache"] and rows[1].stream and rows[1].cost_usd == 0


def test_entries_expire(upstream: FakeOpenAI, tmp_path: Path) -> None:
    settings = parse({**cfg(upstream, ttl_s=60), "log": {"path": str(tmp_path / "log.db"), "flush_interval_s": 0.01}})
    now = [1000.0]
    pipeline = build_pipeline(settings)
    assert pipeline.cache is not None
    pipeline.cache.close()
    cache = ResponseCache(settings.cache, open_store(settings), clock=lambda: now[0])
    with running(Gateway(settings, replace(pipeline, cache=cache))) as url:
        c = client(url)
        assert ask(c)[1] == "miss"
        now[0] += 59
        assert ask(c)[1] == "hit"
        now[0] += 2
        assert ask(c)[1] == "miss"
    assert len(upstream.requests) == 2
