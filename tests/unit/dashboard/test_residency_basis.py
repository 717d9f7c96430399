"""The residency evidence states its basis: what the detector covers, its measured recall, unflagged egress."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smallfirst.cli.main import main
from smallfirst.config.schema import ResidencyConfig
from smallfirst.dashboard.residency import Evidence, basis
from smallfirst.dashboard.residency_html import render_residency_html
from smallfirst.sensitivity import evidence
from smallfirst.sensitivity.detector import known_entities
from smallfirst.sensitivity.evidence import EvalResults, coverage, eval_results
from tests.unit.dashboard.test_residency_evidence import NOW, ok, rec, store_with

NO_NER = ResidencyConfig(ner=False)
RESULTS = {"set": "pii-eval-v1", "date": "2026-05-20", "group_recall": {"structured": 0.97, "names_places": 0.41},
           "type_recall": {"email": 1.0, "phone": 0.93}, "benign_flagged": {"rate": 0.02, "n": 400}}


@pytest.fixture
def measured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the bundled results file at a temporary path (absent until a test writes it)."""
    path = tmp_path / "pii-eval-results.json"
    monkeypatch.setattr(evidence, "EVAL_RESULTS", path)
    return path


def test_eval_results_absent_full_partial_and_garbage(measured: Path) -> None:
    assert eval_results() is None
    measured.write_text(json.dumps(RESULTS))
    got = eval_results()
    assert got is not None and got.set == "pii-eval-v1" and got.date == "2026-05-20"
    assert dict(got.group_recall) == {"structured": 0.97, "names_places": 0.41}
    assert dict(got.type_recall) == {"email": 1.0, "phone": 0.93} and got.benign_flagged["n"] == 400.0
    assert got.summary() == "measured recall on pii-eval-v1 (2026-05-20): structured 0.97, names_places 0.41"
    measured.write_text(json.dumps({"group_recall": {"structured": 0.9, "odd": "n/a", "flag": True},
                                    "type_recall": [1, 2]}))
    partial = eval_results()
    assert partial == EvalResults(set="pii-eval-results.json", group_recall={"structured": 0.9},
                                  source=str(measured))
    # the evaluation run's own shape: {hits, total, rate} objects, per_type_recall, recall_any, benign_flagged_share
    measured.write_text(json.dumps({
        "set": "smallfirst-pii-eval-v1", "date": "2026-12-03", "recall_any": {"hits": 49, "total": 100, "rate": 0.49},
        "group_recall": {"structured": {"hits": 67, "total": 100, "rate": 0.67},
                         "names_places": {"hits": 9, "total": 100, "rate": 0.09}},
        "per_type_recall": {"email": {"hits": 5, "total": 5, "rate": 1.0}},
        "benign_flagged_share": {"mmlu": {"hits": 4, "total": 14042, "rate": 0.0003, "reported": {"address": 2}}}}))
    real = eval_results()
    assert real is not None and real.overall == 0.49 and dict(real.type_recall) == {"email": 1.0}
    assert dict(real.benign_flagged) == {"mmlu": 0.0003}
    assert real.summary() == ("measured recall on smallfirst-pii-eval-v1 (2026-12-03): overall 0.49, structured 0.67, "
                              "names_places 0.09")
    measured.write_text("{not json")
    assert eval_results() is None
    measured.write_text("[1, 2]")
    assert eval_results() is None


def test_coverage_follows_the_configuration() -> None:
    plain = coverage(NO_NER)
    assert plain.enabled and not plain.ner and plain.ner_entities == ()
    assert {"email", "credit_card", "iban", "secret.openai_key", "address"} <= set(plain.entities)
    assert {"location", "person"} <= set(plain.not_detected)
    assert set(plain.not_detected) == known_entities() - set(plain.entities)
    trimmed = coverage(ResidencyConfig(disabled_entities=["ip_address"], ner=True))  # NER is not loaded for this
    assert "ip_address" not in trimmed.entities and trimmed.ner_entities == ("address", "location", "person")
    assert "ip_address" in trimmed.not_detected and "person" not in trimmed.not_detected
    off = coverage(ResidencyConfig(enabled=False))
    assert not off.enabled and off.all_entities == () and "email" in off.not_detected


def test_basis_json_and_statement() -> None:
    b = basis(NO_NER, None)
    assert b["detection"] is True and b["ner"] is False and b["recall"] is None
    assert {"location", "person"} <= set(b["not_detected"]) and "email" in b["entities"]
    assert b["statement"].startswith(f"certifies only what the detector flags: {len(b['entities'])} entity types")
    assert b["statement"].endswith(f"NER off; not detected: {', '.join(b['not_detected'])}; recall: not measured")
    on = basis(ResidencyConfig(ner=True), None)
    assert on["ner_entities"] == ["address", "location", "person"] and "by NER (address, location, person)" in on[
        "statement"]
    m = EvalResults(set="pii-eval-v1", group_recall={"structured": 0.97})
    with_recall = basis(NO_NER, m)
    assert with_recall["recall"]["set"] == "pii-eval-v1"
    assert with_recall["statement"].endswith("measured recall on pii-eval-v1: structured 0.97")
    assert basis(ResidencyConfig(enabled=False), None)["statement"].startswith("detection is off")


def test_unflagged_egress_is_counted_by_tier() -> None:
    ev = Evidence(NOW - 3600, NOW)
    ev.add(rec(1, attempts=(ok("local", "local"),)))  # sensitive, stayed
    ev.add(rec(2, sensitive=(), attempts=(ok("local", "local"),)))  # unflagged, stayed
    ev.add(rec(3, sensitive=(), tier="mid", attempts=(ok("local", "local", "upstream_timeout"), ok("mid", "eu"))))
    ev.add(rec(4, sensitive=(), tier="frontier", attempts=(ok("mid", "eu", "upstream_timeout"),
                                                           ok("frontier", "us"))))
    ev.add(rec(5, sensitive=(), tier="mid", attempts=(ok("mid", "eu", "verify"), ok("mid", "eu"))))
    ev.add(rec(6, sensitive=(), attempts=(ok("local", ""),)))  # logged before locations were recorded
    e = ev.result()
    assert e["basis"] is None  # no configuration given
    u = e["unflagged"]
    assert (u["requests"], u["left_host"], u["unverified"]) == (5, 3, 1)
    assert u["by_tier"] == [{"tier": "mid", "location": "eu", "requests": 3},
                            {"tier": "frontier", "location": "us", "requests": 1}]
    assert u["statement"] == ("3 of 5 unflagged requests left this host (mid (eu) 3, frontier (us) 1); counted, "
                              "not certified: the detector found nothing sensitive in them")
    assert e["left_host"] == 0 and e["statement"] == "0 of 1 sensitive requests left this host"  # unchanged
    assert any("unflagged" in n and "not certified" in n for n in e["notes"])
    page = render_residency_html(ev.result(NO_NER, None))
    assert "3 of 5 unflagged requests left this host" in page and "<td>frontier</td>" in page
    assert "Basis: certifies only what the detector flags" in page and "recall: not measured" in page


def test_cli_states_the_basis_and_what_check_certifies(tmp_path: Path, measured: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    rows = [rec(i, attempts=(ok("local", "local"),)) for i in range(4)]
    rows += [rec(10 + i, sensitive=(), tier="frontier", attempts=(ok("frontier", "us"),)) for i in range(2)]
    store_with(tmp_path, rows).close()
    log = str(tmp_path / "log.db")
    cfg = tmp_path / "smallfirst.toml"
    cfg.write_text('[residency]\nner = false\ndisabled_entities = ["ip_address"]\n')
    out = tmp_path / "e.json"
    assert main(["report", "residency", "-c", str(cfg), "--log", log, "--since", "1d", "--check",
                 "--json", str(out)]) == 0  # unflagged egress does not fail the check
    text = " ".join(capsys.readouterr().out.split())
    assert "0 of 4 sensitive requests left this host" in text
    assert "Basis: certifies only what the detector flags" in text and "recall: not measured" in text
    not_detected = sorted(known_entities() - set(coverage(ResidencyConfig(ner=False, disabled_entities=["ip_address"]))
                                                  .entities))
    assert "ip_address" in not_detected and f"not detected: {', '.join(not_detected)}" in text
    assert "2 of 2 unflagged requests left this host (frontier (us) 2); counted, not certified" in text
    assert "--check certifies flagged traffic only: unflagged requests that left this host are counted" in text
    e = json.loads(out.read_text())
    assert e["basis"]["not_detected"] == not_detected and e["basis"]["recall"] is None
    assert e["unflagged"]["by_tier"] == [{"tier": "frontier", "location": "us", "requests": 2}]

    measured.write_text(json.dumps(RESULTS))
    assert main(["report", "residency", "-c", str(cfg), "--log", log, "--since", "1d", "--json", str(out)]) == 0
    assert "measured recall on pii-eval-v1 (2026-05-20): structured 0.97" in " ".join(capsys.readouterr().out.split())
    assert json.loads(out.read_text())["basis"]["recall"]["type_recall"] == {"email": 1.0, "phone": 0.93}


def test_check_help_says_it_certifies_flagged_traffic_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "residency", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "Certifies flagged traffic only: unflagged requests that left the host are counted, not certified" in text
