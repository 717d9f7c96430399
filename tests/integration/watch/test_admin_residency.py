"""``GET /admin/api/residency``: the residency evidence from a real gateway's log, behind the admin key."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from smallfirst.config.loader import parse
from smallfirst.server.app import create_app
from tests.helpers.gateway import running
from tests.helpers.traffic import drive, three_tier_config


def test_residency_evidence_from_real_traffic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_TEST_ADMIN_KEY", "s3cret-admin")
    app = create_app(parse(three_tier_config(str(tmp_path / "log.db"), admin_key_env="SF_TEST_ADMIN_KEY")))
    auth = {"authorization": "Bearer s3cret-admin"}
    with running(app) as url:
        sent = drive(url)
        blocked = httpx.post(url + "/v1/chat/completions", json={
            "model": "smallfirst/frontier", "messages": [{"role": "user", "content": "card 4111 1111 1111 1111"}]})
        app.pipeline.store.flush()
        denied = httpx.get(url + "/admin/api/residency")
        e = httpx.get(url + "/admin/api/residency?since=1h", headers=auth).json()
        bad = httpx.get(url + "/admin/api/residency?since=soon", headers=auth)
    assert denied.status_code == 401
    assert blocked.status_code == 403
    assert e["requests"] == sum(sent.values()) + 1
    assert e["sensitive_requests"] == sent["sensitive"] + 1 and e["left_host"] == 0 and e["unverified"] == 0
    assert e["statement"] == "0 of 2 sensitive requests left this host"
    assert e["outcomes"]["served"] == 1 and e["outcomes"]["blocked_by_policy"] == 1
    assert {x["entity"] for x in e["by_entity"]} == {"email", "credit_card"}
    assert e["served_by"] == [{"tier": "local", "endpoint": "fake-local", "location": "local", "requests": 1}]
    assert "4111" not in str(e) and "jane.doe" not in str(e)
    # its basis: the configured detector's entity types, NER, measured recall (or "not measured")
    assert "email" in e["basis"]["entities"] and e["basis"]["ner"] is True  # residency.ner defaults on
    assert {"person", "location"} <= set(e["basis"]["ner_entities"])
    assert e["basis"]["statement"].startswith("certifies only what the detector flags") and "recall" in e["basis"][
        "statement"]
    u = e["unflagged"]  # requests without findings that left: counted by tier, not certified
    assert u["requests"] == e["requests"] - e["sensitive_requests"]
    assert u["left_host"] == sent["escalated"] + sent["frontier"]  # escalations tried mid (eu), then frontier (us)
    assert u["by_tier"] == [{"tier": "frontier", "location": "us", "requests": sent["escalated"] + sent["frontier"]},
                            {"tier": "mid", "location": "eu", "requests": sent["escalated"]}]
    assert "counted, not certified" in u["statement"]
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "since"
