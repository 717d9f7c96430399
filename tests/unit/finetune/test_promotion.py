"""The promotion pointer and its watcher, deploy (versions, Modelfile, gate required), rollback, the gate rule."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from smallfirst.backends.promoted import PointerWatch, Promotion, read_pointer, write_pointer
from smallfirst.core.errors import BadRequestError, ConfigError
from smallfirst.evaluate.compare import Comparison, TaskDelta
from smallfirst.finetune.deploy import deploy, modelfile, rollback
from smallfirst.finetune.gate import decide
from smallfirst.finetune.gguf_info import file_digest


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Three files with a GGUF header (what the pointer checks; llama.cpp reads the rest)."""
    base, a1, a2 = tmp_path / "base.gguf", tmp_path / "a1.gguf", tmp_path / "a2.gguf"
    for p in (base, a1, a2):
        p.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + p.name.encode())
    return base, a1, a2


def test_watch_follows_the_pointer_and_keeps_the_last_good_one(tmp_path: Path) -> None:
    base, a1, a2 = _files(tmp_path)
    ptr = tmp_path / "promoted.json"
    clock = Clock()
    w = PointerWatch(ptr, interval_s=1.0, clock=clock)
    assert w.current() is None  # no pointer yet: the configured model
    write_pointer(ptr, Promotion(str(base), str(a1), 1, "m"), {})
    assert w.current() is None  # checked less than a second ago
    clock.t = 1.5
    assert w.current() == Promotion(str(base.resolve()), str(a1.resolve()), 1, "m")
    ptr.write_text("{broken")
    clock.t = 3.0
    assert w.current() is not None and w.current().version == 1  # type: ignore[union-attr]
    assert w.error is not None and "cannot be read" in w.error
    write_pointer(ptr, Promotion(str(base), str(a2), 2, "m"), {})
    clock.t = 4.5
    v2 = w.current()
    assert v2 is not None and v2.version == 2 and w.error is None
    w.reject(v2, "bad adapter")  # the backend failed to load it: back to v1
    assert w.current() is not None and w.current().version == 1  # type: ignore[union-attr]
    assert "version 2 failed to load (bad adapter)" in str(w.status()["error"])
    os.utime(ptr, ns=(10**18, 10**18))  # touched, same content: still rejected
    clock.t = 6.0
    assert w.current().version == 1  # type: ignore[union-attr]


def test_pointer_validation(tmp_path: Path) -> None:
    base, a1, _ = _files(tmp_path)
    p = write_pointer(tmp_path / "p.json", Promotion(str(base), str(a1), 3, "m"), {"extra": 1})
    assert read_pointer(p).version == 3 and json.loads(p.read_text())["extra"] == 1
    a1.write_bytes(b"GGUF but truncated")
    with pytest.raises(ConfigError, match=r"a1.gguf' is not a GGUF file \(bad header\)"):
        read_pointer(p)
    a1.unlink()
    with pytest.raises(ConfigError, match=r"lora_path .* is not a file"):
        read_pointer(p)
    (tmp_path / "q.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ConfigError, match="not a smallfirst promotion pointer"):
        read_pointer(tmp_path / "q.json")


def _run(tmp_path: Path, promote: bool | None) -> Path:
    """A finished run folder as `finetune run` leaves it (+ gate.json when ``promote`` is not None)."""
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    base, _, _ = _files(tmp_path)
    (run / "adapter.gguf").write_bytes(b"GGUF\x03\x00\x00\x00-adapter")
    (run / "train.json").write_text(json.dumps({"status": "done", "base": {"path": str(base)},
                                                "adapter_gguf": "adapter.gguf", "config": {"data": "d"}}))
    if promote is not None:
        (run / "gate.json").write_text(json.dumps({
            "promote": promote, "reason": "KEEP THE BASE — no better" if not promote else "PROMOTE",
            "adapter_sha256_12": file_digest(run / "adapter.gguf")[:12],
            "comparison": {"mean_a": 0.25, "mean_b": 0.75, "n": 8}}))
    return run


def test_deploy_needs_a_passing_gate(tmp_path: Path) -> None:
    with pytest.raises(BadRequestError, match="has not been through the gate"):
        deploy(_run(tmp_path, None), tmp_path / "models")
    with pytest.raises(BadRequestError, match="the gate kept the base: KEEP THE BASE"):
        deploy(_run(tmp_path, False), tmp_path / "models")
    forced = deploy(_run(tmp_path, False), tmp_path / "models", force=True)
    assert forced["forced"] and forced["version"] == 1


def test_deploy_versions_modelfile_and_rollback(tmp_path: Path) -> None:
    run = _run(tmp_path, True)
    models = tmp_path / "models"
    d1 = deploy(run, models, name="sent")
    d2 = deploy(run, models, name="sent", ollama_from="smollm2:135m")
    assert (d1["version"], d2["version"]) == (1, 2)
    assert (models / "sent-v1.lora.gguf").read_bytes() == (models / "sent-v2.lora.gguf").read_bytes() \
        == (run / "adapter.gguf").read_bytes()
    mf = (models / "Modelfile").read_text()
    assert "\nFROM smollm2:135m\nADAPTER ./sent-v2.lora.gguf\n" in mf and "base 0.250 → tuned 0.750" in mf
    assert f"FROM {(tmp_path / 'base.gguf').resolve()}\n" in (models / "Modelfile.sent-v1").read_text()
    assert read_pointer(models / "promoted.json").version == 2
    back = rollback(models)
    assert (back["version"], back["from"]) == (1, 2)
    assert read_pointer(models / "promoted.json").lora_path == str((models / "sent-v1.lora.gguf").resolve())
    base = rollback(models, version=0)
    assert base["version"] == 0 and read_pointer(models / "promoted.json").lora_path is None
    with pytest.raises(BadRequestError, match="version 7 was never promoted"):
        rollback(models, version=7)
    (run / "adapter.gguf").write_bytes(b"GGUF-retrained")
    with pytest.raises(BadRequestError, match="adapter changed after the gate"):
        deploy(run, models)
    with pytest.raises(BadRequestError, match="not allowed"):
        deploy(_run(tmp_path, True), models, name="../evil")


def test_modelfile_shape() -> None:
    text = modelfile("/m/base.gguf", "x-v1.lora.gguf", comment="one\ntwo")
    assert text == "# one\n# two\nFROM /m/base.gguf\nADAPTER ./x-v1.lora.gguf\nPARAMETER temperature 0\n"


def _cmp(a: list[float], b: list[float]) -> Comparison:
    return Comparison("r", "r", "base/x", "tuned/x", tuple(TaskDelta(str(i), "classify", x, y)
                                                          for i, (x, y) in enumerate(zip(a, b, strict=True))))


def test_gate_rule_both_ways() -> None:
    ok, why = decide(_cmp([0, 0, 1, 0], [1, 1, 1, 0]), margin=0.02, total=4)
    assert ok and why.startswith("PROMOTE — tuned 0.750 vs base 0.250 on 4 held-out tasks: Δ +0.500")
    ok, why = decide(_cmp([1, 0, 1, 0], [1, 0, 1, 0]), margin=0.02, total=4)
    assert not ok and "does not beat the margin +0.020" in why
    ok, why = decide(_cmp([0, 1], [1, 1]), margin=0.02, total=4)
    assert not ok and "only 2 of 4 held-out tasks" in why
    ok, _ = decide(_cmp([0.5] * 10, [0.51] * 10), margin=0.02, total=10)
    assert not ok  # a win smaller than the margin keeps the base
