"""The learned router's model: hashed features (and, with ``features`` ``embed`` or ``both``, the prompt's
all-MiniLM-L6-v2 vector, :mod:`smallfirst.routing.embedding`) → one linear scorer per non-top tier →
Platt probability.

Artifact: one ``.npz`` file (``numpy.savez_compressed``, loaded with ``allow_pickle=False``) holding the
arrays and a ``meta`` JSON document (format name and version, tiers, featurizer config, the feature set,
training facts, and the out-of-fold scores used by ``router calibrate``). No pickled code. ``weights`` has
one row per hashed feature, then (embedding features) one per embedding dimension. An artifact with
embedding features is version 2 (older readers refuse it rather than ignore the embedding rows); one
without is version 1 and never loads the embedding model.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from smallfirst.core.errors import ConfigError
from smallfirst.core.types import Signals
from smallfirst.embeddings.minilm import DIMENSIONS, MODEL_ID
from smallfirst.routing.embedding import (
    EMBED_SCALE,
    FEATURES,
    LiveEmbedder,
    check_features,
    uses_embedding,
    uses_ngrams,
)
from smallfirst.routing.features import HashedFeaturizer

ARTIFACT_FORMAT = "smallfirst-router"
ARTIFACT_VERSION = 2  # the newest this code reads and writes (1: hashed features only)

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]


def sigmoid(x: F64) -> F64:
    out: F64 = 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))
    return out


@dataclass(frozen=True)
class LinearRouterModel:
    """``probs(text, signals)[t]``: probability that tier ``t`` (not the top one) is good enough."""

    featurizer: HashedFeaturizer
    tiers: tuple[str, ...]
    weights: F32  # (dim, n_tiers - 1)
    bias: F64  # (n_tiers - 1,)
    platt: F64  # (n_tiers - 1, 2): p = sigmoid(a · margin + b)
    idf: F32  # (dim,)
    meta: Mapping[str, Any] = field(default_factory=dict)
    oof: F64 | None = None  # (n, n_tiers - 1) out-of-fold probabilities on the training prompts
    oof_scores: F64 | None = None  # (n, n_tiers) the training outcomes, same row order
    oof_costs: F64 | None = None  # (n, n_tiers)
    features: str = "ngrams"  # ngrams | embed | both
    embedder: LiveEmbedder | None = field(default=None, compare=False, repr=False)  # set when embedding is used

    def __post_init__(self) -> None:
        check_features(self.features)
        if uses_embedding(self.features) and self.embedder is None:
            object.__setattr__(self, "embedder", LiveEmbedder())

    def margins(self, text: str, signals: Signals) -> F64:
        dim = self.featurizer.dim
        if uses_ngrams(self.features):
            idx, vals = self.featurizer.transform_one(text, signals, self.idf)
        elif self.featurizer.use_meta:
            idx = self.featurizer.meta_index(self.featurizer.meta_tokens(text, signals))
            vals = np.ones(len(idx))
        else:
            idx, vals = np.zeros(0, dtype=np.int64), np.zeros(0)
        out: F64 = vals @ self.weights[idx].astype(np.float64) + self.bias
        if self.embedder is not None:
            vec = self.embedder.vector(text).astype(np.float64) * EMBED_SCALE
            out = out + vec @ self.weights[dim:].astype(np.float64)
        return out

    def probs(self, text: str, signals: Signals) -> F64:
        m = self.margins(text, signals)
        return sigmoid(self.platt[:, 0] * m + self.platt[:, 1])

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        embed = uses_embedding(self.features)
        meta = {"format": ARTIFACT_FORMAT, "version": 2 if embed else 1, "tiers": list(self.tiers),
                "featurizer": self.featurizer.config(), **dict(self.meta), "features": self.features}
        if embed:
            meta["embedding"] = {"model": MODEL_ID, "dimensions": DIMENSIONS, "scale": EMBED_SCALE}
        arrays: dict[str, Any] = {
            "weights": self.weights.astype(np.float32), "bias": self.bias, "platt": self.platt,
            "idf": self.idf.astype(np.float32),
            "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
        }
        if self.oof is not None and self.oof_scores is not None and self.oof_costs is not None:
            arrays.update(oof=self.oof, oof_scores=self.oof_scores, oof_costs=self.oof_costs)
        p.parent.mkdir(parents=True, exist_ok=True)
        with p.open("wb") as fh:
            np.savez_compressed(fh, **arrays)
        return p

    @classmethod
    def load(cls, path: str | Path) -> LinearRouterModel:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"router artifact {str(p)!r} not found",
                              hint="train one with `smallfirst router train OUTCOMES --out router.npz`")
        try:
            with p.open("rb") as fh, np.load(fh, allow_pickle=False) as z:  # our handle: closed on a bad file too
                meta = json.loads(bytes(z["meta"]).decode("utf-8"))
                arr = {k: z[k] for k in z.files if k != "meta"}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:  # truncated, not an npz
            raise ConfigError(f"router artifact {str(p)!r} is not readable: {err}",
                              hint="retrain it with `smallfirst router train`") from None
        if meta.get("format") != ARTIFACT_FORMAT or int(meta.get("version", 0)) > ARTIFACT_VERSION:
            raise ConfigError(f"router artifact {str(p)!r} has format {meta.get('format')!r} "
                              f"version {meta.get('version')!r}; this smallfirst reads "
                              f"{ARTIFACT_FORMAT} ≤ v{ARTIFACT_VERSION}", hint="retrain it with this version")
        feat = HashedFeaturizer.from_config(meta["featurizer"])
        tiers = tuple(meta["tiers"])
        features = str(meta.get("features", "ngrams"))
        if features not in FEATURES:
            raise ConfigError(f"router artifact {str(p)!r} has unknown features {features!r}",
                              hint="retrain it with this version")
        emb = meta.get("embedding") or {}
        want_rows = feat.dim + (DIMENSIONS if uses_embedding(features) else 0)
        if uses_embedding(features) and (emb.get("model") != MODEL_ID or float(emb.get("scale", -1)) != EMBED_SCALE):
            raise ConfigError(f"router artifact {str(p)!r} was trained on embeddings of {emb.get('model')!r} "
                              f"(scale {emb.get('scale')}); this smallfirst embeds with {MODEL_ID} (scale "
                              f"{EMBED_SCALE})", hint="retrain it with `smallfirst router train --features embed`")
        if arr["weights"].shape[0] != want_rows:
            raise ConfigError(f"router artifact {str(p)!r}: weights have {arr['weights'].shape[0]} rows, "
                              f"features {features!r} need {want_rows}",
                              hint="retrain it with `smallfirst router train`")
        skip = ("format", "version", "tiers", "featurizer", "features", "embedding")
        extra = {k: v for k, v in meta.items() if k not in skip}
        return cls(featurizer=feat, tiers=tiers, weights=arr["weights"], bias=arr["bias"], platt=arr["platt"],
                   idf=arr["idf"], meta=extra, oof=arr.get("oof"), oof_scores=arr.get("oof_scores"),
                   oof_costs=arr.get("oof_costs"), features=features)


def tier_labels(scores: F64) -> tuple[F64, F64]:
    """Per non-top tier ``t``: y = 1 if tier t scores at least as well as every dearer tier; and the
    score difference to the best dearer tier (for the regression target)."""
    n, k = scores.shape
    y = np.zeros((n, k - 1))
    diff = np.zeros((n, k - 1))
    for t in range(k - 1):
        best_above = scores[:, t + 1:].max(axis=1)
        diff[:, t] = scores[:, t] - best_above
        y[:, t] = (diff[:, t] >= 0).astype(np.float64)
    return y, diff


def is_binary(scores: Sequence[float] | F64) -> bool:
    a = np.asarray(scores, dtype=np.float64)
    return bool(np.all((a == 0.0) | (a == 1.0)))
