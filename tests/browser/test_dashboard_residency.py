"""The dashboard's on-demand residency evidence in headless Chromium, checked against the request log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from smallfirst.config.loader import parse
from smallfirst.server.app import create_app
from tests.helpers.gateway import running
from tests.helpers.traffic import drive, three_tier_config

pytestmark = pytest.mark.slow


def test_check_the_log_shows_the_statement_and_entity_types(browser: Any, tmp_path: Path) -> None:
    app = create_app(parse(three_tier_config(str(tmp_path / "log.db"))))
    with running(app) as url:
        drive(url)
        assert httpx.post(url + "/v1/chat/completions", json={"model": "smallfirst/frontier", "messages": [
            {"role": "user", "content": "refund card 4111 1111 1111 1111"}]}).status_code == 403
        app.pipeline.store.flush()
        rows = app.pipeline.store.query()
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/dashboard")
        page.wait_for_selector("body[data-loaded]")
        assert page.is_hidden("#evidence-statement")  # nothing is read from the log until asked
        page.click("#evidence-load")
        page.wait_for_selector("#evidence-statement:not([hidden])")
        sensitive = sum(1 for r in rows if r.sensitive)
        assert page.inner_text("#evidence-statement") == f"0 of {sensitive} sensitive requests left this host"
        assert page.get_attribute("#evidence-statement", "class") == "ok-text"
        assert page.inner_text("#evidence-basis").startswith("Basis: certifies only what the detector flags")
        unflagged = page.inner_text("#evidence-unflagged")
        assert unflagged.startswith("Unflagged: ") and "counted, not certified" in unflagged
        got = {e: page.get_attribute(f'#evidence tr[data-entity="{e}"] td:last-child', "data-value")
               for e in ("email", "credit_card")}
        assert got == {"email": "1", "credit_card": "1"}
        assert errors == []
        page.close()
