"""The bundled independent PII set loads and is well formed; the scorer counts right; the generator is deterministic."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import pytest

from smallfirst.sensitivity.evalset import (
    SET_NAME,
    EvalSample,
    EvalSpan,
    benign_prompts,
    flagged_share,
    load,
    load_meta,
    score,
)

ROOT = Path(__file__).resolve().parents[3]
TYPES = ("person", "street_address", "city", "postcode", "email", "phone", "credit_card", "iban", "ssn",
         "national_id", "ip_address", "date", "drivers_license", "passport")


@pytest.fixture(scope="module")
def samples() -> list[EvalSample]:
    return load()


def test_bundled_set_is_well_formed(samples: list[EvalSample]) -> None:
    assert 2000 <= len(samples) <= 4000
    ids = [s.id for s in samples]
    assert len(set(ids)) == len(ids)
    for s in samples:
        for sp in s.spans:
            assert 0 <= sp.start < sp.end <= len(s.text), s.id
            span_text = s.span_text(sp)
            assert span_text.strip() and span_text == span_text.strip(), (s.id, span_text)
            assert sp.type in TYPES, sp.type
        assert s.group in ("structured", "names_places", "date", "negative")
        assert (s.group == "negative") == s.negative


def test_coverage(samples: list[EvalSample]) -> None:
    locales = {s.locale for s in samples if not s.negative}
    assert len(locales) >= 10
    assert sum(s.negative for s in samples) >= 600
    per_type = Counter(t for s in samples for t in s.types)
    for t in TYPES:
        assert per_type[t] >= 50, (t, per_type[t])
    assert 1500 <= sum(not s.negative for s in samples) <= 2500


def test_meta_names_the_set(samples: list[EvalSample]) -> None:
    meta = load_meta()
    assert meta["name"] == SET_NAME
    assert meta["samples"] == len(samples)
    assert len(meta["locales"]) >= 12
    assert "MIT" in meta["licence"]


def _s(i: int, types: Iterable[str], locale: str = "en_US", group: str = "structured") -> EvalSample:
    spans = tuple(EvalSpan(0, 1, t) for t in types)
    return EvalSample(id=str(i), text=f"t{i}", locale=locale, spans=spans, group=group if spans else "negative")


def test_score_counts_request_level() -> None:
    data = [
        _s(0, ["email"]),                              # flagged as email
        _s(1, ["email", "person"], group="structured"),  # flagged, but as phone
        _s(2, ["person"], locale="de_DE", group="names_places"),  # missed
        _s(3, ["iban"], locale="de_DE"),               # flagged as iban
        _s(4, []),                                     # negative, flagged (a false positive)
        _s(5, []),                                     # negative, clean
    ]
    reported = {"t0": ["email"], "t1": ["phone"], "t2": [], "t3": ["iban", "iban"], "t4": ["phone"], "t5": []}
    rep = score(lambda t: reported[t], data, match={"email": ["email"], "person": ["person"], "iban": ["iban"]})
    assert rep.samples == 6
    assert (rep.positive.hits, rep.positive.total) == (3, 4)
    assert (rep.negative.hits, rep.negative.total) == (1, 2)
    assert rep.negative.value == 0.5
    assert (rep.per_type["email"].hits, rep.per_type["email"].total) == (2, 2)
    assert (rep.per_type["person"].hits, rep.per_type["person"].total) == (1, 2)
    assert rep.per_type["iban"].value == 1.0
    assert rep.per_type_matched is not None
    assert rep.per_type_matched["email"].hits == 1
    assert rep.per_type_matched["person"].hits == 0
    assert (rep.per_group["structured"].hits, rep.per_group["structured"].total) == (3, 3)
    assert rep.per_group["names_places"].value == 0.0
    assert rep.per_locale["de_DE"].value == 0.5
    assert rep.per_locale["en_US"].value == 1.0
    assert rep.reported_on_negatives == {"phone": 1}
    js = rep.to_json()
    assert js["false_positive_rate"] == {"hits": 1, "total": 2, "rate": 0.5}
    json.dumps(js)
    rep.print()  # the rich tables render


def test_score_without_match_has_no_type_matched() -> None:
    rep = score(lambda t: (), [_s(0, ["phone"])])
    assert rep.per_type_matched is None
    assert rep.positive.value == 0.0
    assert "per_type_matched" not in rep.to_json()


def test_flagged_share_and_benign_prompts(tmp_path: Path) -> None:
    rows = [{"benchmark": "mmlu", "prompt_id": "mmlu/a/0000", "prompt": "Q1", "model": "a"},
            {"benchmark": "mmlu", "prompt_id": "mmlu/a/0000", "prompt": "Q1", "model": "b"},
            {"benchmark": "gsm8k", "prompt_id": "gsm8k/0000", "prompt": "Q2", "model": "a"},
            {"benchmark": "mt-bench", "prompt_id": "mt-bench/81/t1", "prompt": "Q3", "model": "a"}]
    (tmp_path / "outcomes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert benign_prompts(tmp_path) == ["Q1", "Q2", "Q3"]
    assert benign_prompts(tmp_path, "gsm8k") == ["Q2"]
    rate, seen = flagged_share(lambda t: ["phone"] if t == "Q2" else [], benign_prompts(tmp_path))
    assert (rate.hits, rate.total) == (1, 3)
    assert seen == {"phone": 1}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_pii_eval", ROOT / "scripts" / "make_pii_eval.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generator_is_deterministic(tmp_path: Path) -> None:
    pytest.importorskip("faker")
    gen = _generator()
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}" / "set.jsonl"
        assert gen.main(["--positives", "60", "--negatives", "20", "--out", str(out)]) == 0
        outs.append(out.read_bytes())
        assert (out.parent / "set.meta.json").exists()
    assert outs[0] == outs[1]
    small = load(tmp_path / "run0" / "set.jsonl")
    assert len(small) == 80
    assert sum(s.negative for s in small) == 20


def test_bundled_set_is_what_the_generator_writes(tmp_path: Path) -> None:
    faker = pytest.importorskip("faker")
    if load_meta()["faker_version"] != faker.VERSION:
        pytest.skip("another Faker version generates other values")
    out = tmp_path / "pii-eval.jsonl"
    assert _generator().main(["--out", str(out)]) == 0
    bundled = ROOT / "smallfirst" / "sensitivity" / "data"
    assert out.read_bytes() == (bundled / "pii-eval.jsonl").read_bytes()
    assert (tmp_path / "pii-eval.meta.json").read_bytes() == (bundled / "pii-eval.meta.json").read_bytes()
