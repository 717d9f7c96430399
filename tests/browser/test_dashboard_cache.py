"""The dashboard's response-cache card, in headless Chromium, after a miss and a hit through the gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from smallfirst.config.loader import parse
from smallfirst.server.app import create_app
from tests.helpers.gateway import running

pytestmark = pytest.mark.slow


def test_cache_card_shows_hits_and_size(browser: Any, tmp_path: Path) -> None:
    cfg = {"log": {"path": str(tmp_path / "log.db"), "flush_interval_s": 0.01}, "cache": {"enabled": True},
           "tiers": [{"name": "local", "endpoints": [{"backend": "fake", "model": "echo"}]}]}
    app = create_app(parse(cfg))
    with running(app) as url:
        body = {"model": "smallfirst/auto", "messages": [{"role": "user", "content": "hello cache"}]}
        states = [httpx.post(url + "/v1/chat/completions", json=body, timeout=10).headers["x-smallfirst-cache"]
                  for _ in range(2)]
        assert httpx.get(url + "/admin/api/health", timeout=10).json()["cache"]["entries"] == 1
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/dashboard")
        page.wait_for_selector("body[data-loaded]")
        assert states == ["miss", "hit"] and not errors
        assert page.is_visible("#cache-card")
        assert page.inner_text('#cache tr[data-key="hit rate"] td') == "50.0 %"
        assert page.inner_text('#cache tr[data-key="hits · misses · bypassed"] td') == "1 · 1 · 0"
        assert page.inner_text('#cache tr[data-key="entries"] td') == "1"
