"""The admin API, /metrics and the dashboard's files, served by a real gateway after real traffic."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from smallfirst.config.loader import parse
from smallfirst.core.errors import ConfigError
from smallfirst.server.app import create_app
from tests.helpers.gateway import running
from tests.helpers.traffic import drive, three_tier_config


def test_summary_and_metrics_match_the_log(tmp_path: Path) -> None:
    app = create_app(parse(three_tier_config(str(tmp_path / "log.db"))))
    with running(app) as url:
        sent = drive(url)
        app.pipeline.store.flush()
        rows = app.pipeline.store.query()
        s = httpx.get(url + "/admin/api/summary").json()
        h = httpx.get(url + "/admin/api/health").json()
        scrape = httpx.get(url + "/metrics")
    assert len(rows) == sum(sent.values())
    served = [r for r in rows if r.status == 200]
    assert s["totals"]["requests"] == len(rows)
    assert s["totals"]["served"] == len(served) == len(rows) - sent["not_found"]
    assert s["totals"]["errors"] == sent["not_found"]
    assert s["totals"]["cost_usd"] == pytest.approx(sum(r.cost_usd for r in rows))
    assert {t["name"]: t["requests"] for t in s["tiers"]} == {
        "local": sent["local"] + sent["sensitive"], "mid": 0, "frontier": sent["escalated"] + sent["frontier"]}
    assert s["escalations"]["reasons"] == [{"step": "mid->frontier", "reason": "upstream_unavailable",
                                            "count": sent["escalated"]}]
    assert s["residency"] == {"sensitive_requests": 1, "left_host": 0, "left_host_redacted": 0,
                              "left_host_unredacted": 0, "unverified": 0,
                              "by_class": [{"class": "pii", "count": 1, "tiers": {"local": 1}}]}
    assert s["target_mix"] == {"local": 0.7, "mid": 0.2, "frontier": 0.1}
    p, c = sum(r.prompt_tokens for r in rows), sum(r.completion_tokens for r in rows)
    assert s["cost"]["baseline"]["model"] == "fake-frontier"
    assert s["cost"]["baseline_usd"] == pytest.approx((p * 3.0 + c * 15.0) / 1e6)
    assert s["cost"]["savings_usd"] > 0
    assert {x["task_type"]: x["count"] for x in s["task_types"]} == dict(Counter(r.task_type for r in rows))
    assert [(b["tier"], b["ok"]) for b in h["backends"]] == [("local", True), ("mid", False), ("frontier", True)]
    assert h["ok"] is False

    assert scrape.headers["content-type"].startswith("text/plain")
    got: dict[tuple[str, ...], float] = {}
    for fam in text_string_to_metric_families(scrape.text):
        for smp in fam.samples:
            if smp.name == "smallfirst_requests_total":
                got[(smp.labels["tier"], smp.labels["status"])] = got.get((smp.labels["tier"], smp.labels["status"]),
                                                                           0) + smp.value
            if smp.name == "smallfirst_escalations_total":
                assert (smp.labels["from_tier"], smp.labels["reason"], smp.value) == (
                    "mid", "upstream_unavailable", sent["escalated"])
            if smp.name == "smallfirst_residency_decisions_total":
                assert (smp.labels, smp.value) == ({"data_class": "pii", "tier": "local", "left_host": "false"}, 1)
            if smp.name == "smallfirst_tier_mix_ratio":
                assert smp.value == pytest.approx(
                    sum(1 for r in served if r.tier == smp.labels["tier"]) / len(served))
            if smp.name == "smallfirst_cost_usd_total" and smp.labels["tier"] == "frontier":
                assert smp.value == pytest.approx(sum(r.cost_usd for r in rows if r.tier == "frontier"))
    assert got == {(k[0] or "none", str(k[1])): float(v) for k, v in Counter((r.tier, r.status) for r in rows).items()}


def test_admin_key_is_required_when_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_TEST_ADMIN_KEY", "s3cret-admin")
    app = create_app(parse(three_tier_config(str(tmp_path / "log.db"), admin_key_env="SF_TEST_ADMIN_KEY")))
    with running(app) as url:
        for path in ("/admin/api/summary", "/admin/api/health", "/metrics"):
            r = httpx.get(url + path)
            assert r.status_code == 401, path
            assert r.json()["error"]["type"] == "authentication_error"
            assert "s3cret" not in r.text
            assert httpx.get(url + path, headers={"authorization": "Bearer wrong"}).status_code == 401
            assert httpx.get(url + path, headers={"authorization": "Bearer s3cret-admin"}).status_code == 200
        assert httpx.get(url + "/dashboard").status_code == 200  # the page holds no data; it asks for the key
        assert httpx.post(url + "/admin/api/summary").status_code == 405


def test_named_but_unset_admin_key_fails_at_startup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SF_TEST_ADMIN_KEY", raising=False)
    with pytest.raises(ConfigError, match="SF_TEST_ADMIN_KEY"):
        create_app(parse(three_tier_config(str(tmp_path / "log.db"), admin_key_env="SF_TEST_ADMIN_KEY")))


def test_bad_parameters_are_openai_shaped_400s(tmp_path: Path) -> None:
    app = create_app(parse(three_tier_config(str(tmp_path / "log.db"))))
    with running(app) as url:
        for q, param in (("since=yesterday", "since"), ("bucket=61", "bucket"),
                         ("since=1700000100&until=1700000000", "since"), ("baseline=no-such-model-xyz", "baseline")):
            r = httpx.get(url + "/admin/api/summary?" + q)
            assert r.status_code == 400, q
            assert r.json()["error"]["param"] == param
        ok = httpx.get(url + "/admin/api/summary?since=2h&bucket=600&baseline=gpt-4.1-mini").json()
        assert ok["range"]["bucket_s"] == 600 and ok["cost"]["baseline"]["model"] == "gpt-4.1-mini"
        with httpx.Client(base_url=url) as c, c.stream("GET", "/admin/api/summary",
                                                       headers={"accept-encoding": "gzip"}) as z:
            raw = b"".join(z.iter_raw())
        assert z.headers["content-encoding"] == "gzip" and json.loads(gzip.decompress(raw))["totals"]["requests"] == 0


def test_dashboard_files_are_served_compressed_and_cacheable(tmp_path: Path) -> None:
    app = create_app(parse(three_tier_config(str(tmp_path / "log.db"))))
    with running(app) as url, httpx.Client(base_url=url) as c:
        for path, kind in (("/dashboard", "text/html"), ("/dashboard/app.js", "text/javascript"),
                           ("/dashboard/app.css", "text/css")):
            r = c.get(path, headers={"accept-encoding": "identity"})
            assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
            with c.stream("GET", path, headers={"accept-encoding": "gzip"}) as z:
                raw = b"".join(z.iter_raw())
            assert z.headers["content-encoding"] == "gzip"
            assert int(z.headers["content-length"]) == len(raw) < len(r.content)
            assert gzip.decompress(raw) == r.content
            again = c.get(path, headers={"if-none-match": r.headers["etag"]})
            assert again.status_code == 304
        page = c.get("/dashboard").text
        assert "http://" not in page and "https://" not in page  # no CDN: every asset is served from here
