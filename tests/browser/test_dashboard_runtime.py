"""The dashboard's backends table shows what each local runtime reported (real Chromium): a model that
`warm = "keep"` pre-loaded on a (protocol-faithful fake) Ollama reads "loaded"; an endpoint with no runtime
state reads "–"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from smallfirst.config.loader import parse
from smallfirst.server.app import create_app
from tests.fakes.ollama_server import FakeOllama
from tests.helpers.gateway import running

pytestmark = pytest.mark.slow


def test_backends_table_shows_the_runtime_state(browser: Any, tmp_path: Path) -> None:
    with FakeOllama(model="llama3.2:latest").in_thread() as ol:
        cfg = {"log": {"path": str(tmp_path / "log.db")}, "routing": {"warm": "keep", "runtime_poll_s": 0},
               "tiers": [{"name": "local", "endpoints": [
                   {"backend": "ollama_native", "model": "llama3.2", "base_url": ol.url},
                   {"backend": "fake", "model": "echo"}]}]}
        app = create_app(parse(cfg))
        with running(app) as url:
            httpx.get(url + "/healthz", timeout=10)  # polls on demand
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url + "/dashboard")
            page.wait_for_selector("#backends tbody tr")
            cells = page.eval_on_selector_all("#backends tbody tr", "rows => rows.map(r => r.cells[4].innerText)")
    assert cells[0].startswith("loaded"), cells
    assert cells[1] == "–"
    assert errors == []
