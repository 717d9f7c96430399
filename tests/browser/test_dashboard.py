"""The dashboard in Debian's headless Chromium (driven by Playwright, no browser download), loaded from a
real gateway after real traffic; the rendered numbers are checked against the request log."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from smallfirst.config.loader import parse
from smallfirst.server.app import create_app
from tests.helpers.gateway import running
from tests.helpers.traffic import drive, three_tier_config

ARTIFACTS = Path(os.environ.get("SMALLFIRST_TEST_ARTIFACTS", "artifacts/test"))

pytestmark = pytest.mark.slow


def value(page: Any, selector: str) -> str:
    v: str = page.get_attribute(selector, "data-value")
    return v


def test_dashboard_shows_what_the_log_says(browser: Any, tmp_path: Path) -> None:
    app = create_app(parse(three_tier_config(str(tmp_path / "log.db"))))
    with running(app) as url:
        sent = drive(url)
        app.pipeline.store.flush()
        rows = app.pipeline.store.query()
        assert len(rows) == sum(sent.values())
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        foreign: list[str] = []
        page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(url) else None)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/dashboard")
        page.wait_for_selector("body[data-loaded]")

        served = [r for r in rows if r.status == 200]
        assert int(value(page, "#kpi-requests")) == len(rows)
        assert page.inner_text("#kpi-requests") == f"{len(rows):,}"
        assert int(value(page, "#kpi-served")) == len(served)
        assert int(value(page, "#kpi-errors")) == len(rows) - len(served)
        assert float(value(page, "#kpi-cost")) == pytest.approx(sum(r.cost_usd for r in rows))
        assert int(value(page, "#kpi-escalated")) == sum(1 for r in rows if r.escalations)
        assert int(value(page, "#kpi-sensitive")) == sum(1 for r in rows if r.sensitive) == 1
        assert page.inner_text("#kpi-left-host") == "0"
        assert page.inner_text("#kpi-left-redacted") == page.inner_text("#kpi-left-unredacted") == "0"
        assert page.get_attribute("#kpi-left-host", "class") == "v ok-text"
        local = sum(1 for r in served if r.tier == "local")
        assert float(value(page, "#kpi-local-share")) == pytest.approx(local / len(served), abs=1e-6)
        p, c = sum(r.prompt_tokens for r in rows), sum(r.completion_tokens for r in rows)
        assert float(value(page, "#kpi-baseline")) == pytest.approx((p * 3.0 + c * 15.0) / 1e6)
        for tier in ("local", "mid", "frontier"):
            n = sum(1 for r in served if r.tier == tier)
            assert int(value(page, f'#tiers tr[data-tier="{tier}"] td.requests')) == n
        assert value(page, '#escalations li[data-key="mid->frontier · upstream_unavailable"]') == str(
            sent["escalated"])
        assert page.get_attribute('#backends tr[data-endpoint="fake-mid"]', "data-ok") == "false"
        assert page.get_attribute('#backends tr[data-endpoint="fake-local"]', "data-ok") == "true"
        assert page.locator("#mix-chart svg rect").count() >= 1  # bars drawn
        assert page.locator("#mix-chart svg line.target").count() == 2  # 70/20/10: two boundaries

        page.select_option("#range", "1h")
        page.locator("#range-text", has_text="bucket 60 s").wait_for()  # CSP forbids eval: no wait_for_function
        assert int(value(page, "#kpi-requests")) == len(rows)

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert foreign == [] and errors == []
        page.close()


def test_dashboard_asks_for_the_admin_key(browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_BROWSER_ADMIN_KEY", "k-browser-test")
    app = create_app(parse(three_tier_config(str(tmp_path / "log.db"), admin_key_env="SF_BROWSER_ADMIN_KEY")))
    with running(app) as url:
        drive(url)
        app.pipeline.store.flush()
        page = browser.new_page()
        page.goto(url + "/dashboard")
        page.wait_for_selector("#keyform:not([hidden])")
        assert "admin key required" in page.inner_text("#status")
        page.fill("#key", "k-browser-test")
        page.click("#keyform button")
        page.wait_for_selector("body[data-loaded]")
        assert int(value(page, "#kpi-requests")) == len(app.pipeline.store.query())
        assert page.is_hidden("#keyform")
        page.close()
