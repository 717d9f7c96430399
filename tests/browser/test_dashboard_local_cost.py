"""The dashboard shows API spend and the local (own hardware) cost apart, and its saving subtracts both
(Debian's headless Chromium against a real gateway; figures checked against the request log)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smallfirst.config.loader import parse
from smallfirst.server.app import create_app
from tests.helpers.gateway import running
from tests.helpers.traffic import drive, three_tier_config

pytestmark = pytest.mark.slow


def value(page: Any, selector: str) -> str:
    v: str = page.get_attribute(selector, "data-value")
    return v


def test_dashboard_separates_local_cost_and_subtracts_it(browser: Any, tmp_path: Path) -> None:
    cfg = three_tier_config(str(tmp_path / "log.db"))
    cfg["costs"] = {"local": {"profile": "nvidia-rtx-4090", "utilisation": 0.2, "decode_tokens_per_s": 5.0}}
    app = create_app(parse(cfg))
    with running(app) as url:
        drive(url)
        app.pipeline.store.flush()
        rows = app.pipeline.store.query()
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/dashboard")
        page.wait_for_selector("body[data-loaded]")
        api = sum(r.cost_usd for r in rows)
        local = sum(r.local_cost_usd for r in rows)
        assert local > 0
        assert float(value(page, "#kpi-cost")) == pytest.approx(api)  # API spend alone
        assert float(value(page, "#kpi-local-cost")) == pytest.approx(local, rel=1e-6)
        baseline = float(value(page, "#kpi-baseline"))
        assert float(value(page, "#kpi-savings")) == pytest.approx(baseline - api - local, abs=1e-8)
        local_rows = [r for r in rows if r.tier == "local"]
        assert float(value(page, '#tiers tr[data-tier="local"] td.local-cost')) == pytest.approx(
            sum(r.local_cost_usd for r in local_rows), rel=1e-6)
        page.click("#savings-how summary")
        formula = page.inner_text("#savings-formula")
        assert "API spend − local cost" in formula and "1600" in formula and "450 W" in formula
        assert page.inner_text(".kpi:has(#kpi-cost) h2").lower() == "api spend"  # CSS upper-cases headings
        assert errors == []
