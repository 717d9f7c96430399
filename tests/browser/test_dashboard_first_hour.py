"""The dashboard a new gateway's owner sees first (real Chromium): a range that fits the data, the errors
broken down, the saving labelled as an estimate with its formula one click away, nothing overflowing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smallfirst.config.loader import parse
from smallfirst.server.app import create_app
from tests.helpers.gateway import running
from tests.helpers.traffic import drive, three_tier_config

pytestmark = pytest.mark.slow


def test_new_gateway_dashboard(browser: Any, tmp_path: Path) -> None:
    app = create_app(parse(three_tier_config(str(tmp_path / "log.db"))))
    with running(app) as url:
        sent = drive(url)
        app.pipeline.store.flush()
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/dashboard")
        page.wait_for_selector('body[data-range="15m"]')  # a minute of traffic: not a sliver of 24 hours
        assert page.input_value("#range") == "15m"
        assert page.get_attribute("#kpi-errors", "data-value") == str(sent["not_found"])
        n = sent["not_found"]
        assert page.inner_text("#kpi-errors-by") == (f"errors: before routing {n} (HTTP 404 × {n}); "
                                                     f"before routing model_not_found × {n}")
        assert "(estimate)" in page.inner_text(".kpi:has(#kpi-savings) h2")
        assert page.is_hidden("#savings-formula")
        page.click("#savings-how summary")
        formula = page.inner_text("#savings-formula")
        assert "not a measured saving" in formula and "per million tokens" in formula
        overflow = page.evaluate("""() => {
            const t = document.querySelector('#backends'), card = t.closest('.card');
            return [document.documentElement.scrollWidth, t.scrollWidth, card.clientWidth];
        }""")
        assert overflow[0] <= 1400 and overflow[1] <= overflow[2], overflow
        page.goto(url + "/dashboard?range=24h")  # an explicit range is kept
        page.wait_for_selector('body[data-range="24h"]')
        assert page.input_value("#range") == "24h"
        assert errors == []
        page.close()
