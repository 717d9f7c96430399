"""Residency decisions: per data class, per API key, header forcing, fail closed, redaction."""

from __future__ import annotations

from typing import Any

import pytest

from smallfirst.config.loader import parse
from smallfirst.config.schema import Settings
from smallfirst.core.errors import BadRequestError, ConfigError
from smallfirst.core.types import ChatRequest, Signals
from smallfirst.policy import ResidencyPolicy
from smallfirst.sensitivity import Findings, restore

TIERS = ("local", "eu", "frontier")
SECRET = "sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz1234567890AbCdEfGh"


def settings(residency: dict[str, Any] | None = None) -> Settings:
    return parse({
        "tiers": [
            {"name": "local", "endpoints": [{"backend": "fake", "model": "small"}]},
            {"name": "eu", "endpoints": [{"backend": "openai_compat", "model": "m", "base_url": "https://eu.example",
                                          "location": "eu"}]},
            {"name": "frontier", "endpoints": [{"backend": "openai", "model": "big"}]},
        ],
        "residency": residency or {},
    })


def req(text: str, *, headers: dict[str, str] | None = None, key: str | None = None) -> ChatRequest:
    messages = [{"role": "user", "content": text}]
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    return ChatRequest(model="smallfirst/auto", messages=messages, body={"messages": messages}, headers=hdrs,
                       api_key_id=key)


def check(policy: ResidencyPolicy, request: ChatRequest, signals: Signals | None = None) -> tuple[Any, ...]:
    res = policy.check(request, signals or Signals(), TIERS)
    return res.allowed, res.pin_local, " ".join(res.reasons)


def test_tier_locations_from_config() -> None:
    p = ResidencyPolicy.from_settings(settings())
    assert p.tier_locations == {"local": {"local"}, "eu": {"eu"}, "frontier": {"remote"}}
    assert p.is_local("local") and not p.is_local("eu") and not p.is_local("unknown-tier")


def test_plain_request_may_use_every_tier() -> None:
    allowed, pinned, why = check(ResidencyPolicy.from_settings(settings()), req("Summarise this article."))
    assert allowed == TIERS and not pinned and why == ""


@pytest.mark.parametrize("text", [
    "my email is jane.doe@example.org",
    f"use key {SECRET}",
    "NHS number: 943 476 5919",
    "card 4111 1111 1111 1111",
])
def test_sensitive_request_pinned_to_local_by_default(text: str) -> None:
    allowed, pinned, why = check(ResidencyPolicy.from_settings(settings()), req(text))
    assert allowed == ("local",) and pinned
    assert "residency" in why and "removed eu (eu), frontier (remote)" in why
    assert SECRET not in why and "jane.doe" not in why and "4111" not in why


def test_per_class_locations() -> None:
    p = ResidencyPolicy.from_settings(settings({"classes": {"pii": ["local", "eu"], "financial": ["*"]}}))
    assert check(p, req("mail jane.doe@example.org"))[0] == ("local", "eu")
    assert check(p, req("card 4111 1111 1111 1111"))[0] == TIERS
    assert check(p, req("card 4111 1111 1111 1111, mail jane.doe@example.org"))[0] == ("local", "eu")
    # classes not named keep their default (local only): a secret still pins local
    assert check(p, req(f"mail jane.doe@example.org key {SECRET}"))[0] == ("local",)


def test_header_forces_local_and_cannot_loosen() -> None:
    p = ResidencyPolicy.from_settings(settings())
    allowed, pinned, why = check(p, req("hello", headers={"X-SmallFirst-Residency": "local"}))
    assert allowed == ("local",) and pinned and "x-smallfirst-residency" in why
    assert check(p, req("hello", headers={"x-smallfirst-residency": "eu"}))[0] == ("local", "eu")
    assert check(p, req("hello", headers={"x-smallfirst-residency": "auto"}))[0] == TIERS
    # a header naming a region cannot widen what a sensitive class allows
    assert check(p, req("mail a@example.org", headers={"x-smallfirst-residency": "eu"}))[0] == ("local",)
    with pytest.raises(BadRequestError, match="x-smallfirst-residency"):
        check(p, req("hello", headers={"x-smallfirst-residency": "*"}))


def test_per_key_overrides() -> None:
    p = ResidencyPolicy.from_settings(settings({
        "keys": {"team-health": {"force_local": True}, "team-eu": {"classes": {"pii": ["local", "eu"]}}},
    }))
    assert check(p, req("hello", key="team-health"))[0] == ("local",)
    assert check(p, req("mail a@example.org", key="team-eu"))[0] == ("local", "eu")
    assert check(p, req("mail a@example.org", key="someone-else"))[0] == ("local",)
    assert check(p, req("hello", key="team-eu"))[0] == TIERS


def test_fail_closed_when_no_tier_qualifies() -> None:
    s = parse({"tiers": [{"name": "frontier", "endpoints": [{"backend": "openai", "model": "big"}]}]})
    p = ResidencyPolicy.from_settings(s)
    res = p.check(req("mail a@example.org"), Signals(), ["frontier"])
    assert res.allowed == () and res.pin_local and "fail closed" in res.reasons[0]
    # an empty location list blocks the class everywhere; unknown tiers are never allowed
    p2 = ResidencyPolicy.from_settings(settings({"classes": {"secret": []}}))
    assert check(p2, req(f"key {SECRET}"))[0] == ()
    assert ResidencyPolicy.from_settings(settings()).check(req("a@example.org"), Signals(), ["ghost"]).allowed == ()


def test_findings_from_signals_are_used_and_classes_unioned() -> None:
    p = ResidencyPolicy.from_settings(settings({"classes": {"pii": ["*"]}}))
    # findings computed upstream (the engine's signals step) win over re-detection
    sig = Signals(sensitivity=Findings.from_counts({"secret.jwt": 1}))
    assert check(p, req("nothing sensitive in the text"), sig)[0] == ("local",)
    # a class flagged by some other signal still restricts
    assert check(p, req("plain"), Signals(sensitive_classes=("phi",)))[0] == ("local",)


def test_detection_can_be_switched_off_but_header_still_forces() -> None:
    p = ResidencyPolicy.from_settings(settings({"enabled": False}))
    assert p.detector is None
    assert check(p, req("mail a@example.org"))[0] == TIERS
    assert check(p, req("mail a@example.org", headers={"x-smallfirst-residency": "local"}))[0] == ("local",)


def test_redaction_only_for_non_local_tiers_when_enabled() -> None:
    text = "mail jane.doe@example.org please"
    off = ResidencyPolicy.from_settings(settings({"classes": {"pii": ["*"]}}))
    assert off.outbound(req(text), "frontier") == (req(text), None)
    on = ResidencyPolicy.from_settings(settings({"classes": {"pii": ["*"]}, "redaction": True,
                                                 "keys": {"raw": {"redaction": False}}}))
    assert on.outbound(req(text), "local") == (req(text), None)
    masked, mapping = on.outbound(req(text), "frontier")
    assert mapping is not None and masked.messages[0]["content"] == "mail [EMAIL_1] please"
    assert restore("Done: [EMAIL_1]", mapping) == "Done: jane.doe@example.org"
    assert on.outbound(req(text, key="raw"), "frontier")[1] is None
    assert on.outbound(req("nothing here"), "frontier")[1] is None


def test_config_rejects_bad_residency_values() -> None:
    with pytest.raises(ConfigError, match="unknown data class"):
        settings({"classes": {"pi": ["local"]}})
    with pytest.raises(ConfigError, match="lower-case"):
        settings({"classes": {"pii": ["EU"]}})
    with pytest.raises(ConfigError, match="phone region"):
        settings({"phone_regions": ["uk"]})
    with pytest.raises(ConfigError, match="unknown key"):
        settings({"keys": {"k": {"force_locale": True}}})
