"""Training the learned router on an outcome table (offline, CPU; sklearn and scipy loaded lazily).

Features are hashed once per prompt (stateless), so cross-validation only refits the idf weights and
the linear models. ``train`` fits one scorer per non-top tier:

* ``logistic`` — logistic regression on "this tier scores at least as well as every dearer tier";
* ``ridge`` — ridge regression on the score difference to the best dearer tier (better on graded,
  judge-scored data);
* ``ensemble`` — both of the above, each with its own regularisation, their margins standardised on the
  training rows and added; the sum of two linear scorers is one linear scorer, so the artifact and the
  decision cost are those of a single model;
* ``auto`` — ``ensemble`` (it needed fewer strong calls for 95 % quality than either member on the
  RouteLLM benchmarks, in grouped cross-validation with every choice made inside the training folds).

``features`` picks the inputs: ``ngrams`` (hashed n-grams + meta tokens, the default), ``embed`` (the
prompt's all-MiniLM-L6-v2 vector + meta tokens) or ``both`` (all of them, side by side in one design
matrix; :mod:`smallfirst.routing.embedding`, vectors cached on disk).

Margins are turned into probabilities by Platt scaling fitted on out-of-fold margins (folds grouped
by prompt text); those out-of-fold probabilities are kept in the artifact for ``router calibrate``.
The regularisation strength (per member) is chosen from ``C_GRID`` by inner grouped 3-fold CV on APGR
unless fixed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from smallfirst.routing.embedding import EMBED_SCALE, F32, LiveEmbedder, check_features, uses_embedding, uses_ngrams
from smallfirst.routing.features import HashedFeaturizer
from smallfirst.routing.model import F64, LinearRouterModel, sigmoid, tier_labels
from smallfirst.routing.outcomes import OutcomeTable

Progress = Callable[[int], None]
I64 = npt.NDArray[np.int64]
C_GRID = (0.1, 0.3, 1.0, 3.0)
KINDS = ("logistic", "ridge", "ensemble", "auto")
Cs = dict[str, float]  # member kind → inverse regularisation strength


def members(kind: str) -> tuple[str, ...]:
    """The single-model kinds a (resolved) kind is made of."""
    return ("logistic", "ridge") if kind == "ensemble" else (kind,)


@dataclass(frozen=True)
class TrainSpec:
    kind: str = "auto"  # logistic | ridge | ensemble | auto
    c: float | None = None  # inverse regularisation strength (ridge: alpha = 1 / c), every member; None: inner CV
    use_meta: bool = True
    bits: int = 18
    folds: int = 5
    seed: int = 0
    features: str = "ngrams"  # ngrams | embed | both (smallfirst.routing.embedding)

    def resolved_kind(self, scores: F64) -> str:
        if self.kind not in KINDS:
            raise ValueError(f"unknown model kind {self.kind!r} ({', '.join(KINDS[:-1])} or auto)")
        del scores  # every kind now handles binary and graded scores alike
        return "ensemble" if self.kind == "auto" else self.kind


@dataclass(frozen=True)
class FeatureMatrix:
    counts: Any  # scipy.sparse.csr_matrix (n, dim): text n-gram counts
    meta: Any  # scipy.sparse.csr_matrix (n, dim): meta tokens (ones)
    dense: F32 | None = None  # (n, 384) prompt embeddings (features embed / both)


def featurize(texts: Sequence[str], tasks: Sequence[str | None], featurizer: HashedFeaturizer,
              progress: Progress | None = None, features: str = "ngrams",
              embed_progress: Progress | None = None) -> FeatureMatrix:
    from scipy import sparse

    ngrams = uses_ngrams(check_features(features))
    dense = None
    if uses_embedding(features):
        from smallfirst.routing.embedding import embed_texts

        dense = embed_texts(texts, progress=embed_progress)
    rows_t: list[I64] = []
    rows_m: list[I64] = []
    for i, (text, task) in enumerate(zip(texts, tasks, strict=True)):
        rows_t.append(featurizer.text_hashes(text) if ngrams else np.zeros(0, dtype=np.int64))
        if featurizer.use_meta:
            sig = featurizer.prompt_signals(text, task)
            rows_m.append(featurizer.meta_index(featurizer.meta_tokens(text, sig)))
        else:
            rows_m.append(np.zeros(0, dtype=np.int64))
        if progress is not None and (i + 1) % 256 == 0:
            progress(256)
    if progress is not None:
        progress(len(texts) % 256)

    def build(parts: list[I64]) -> Any:
        indptr = np.r_[0, np.cumsum([len(p) for p in parts])]
        indices = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        m = sparse.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(parts), featurizer.dim))
        m.sum_duplicates()
        return m

    return FeatureMatrix(counts=build(rows_t), meta=build(rows_m), dense=dense)


def idf_from(counts: Any) -> F64:
    """Smoothed idf: ln((1 + n) / (1 + df)) + 1."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
    out: F64 = np.log((1.0 + n) / (1.0 + df)) + 1.0
    return out


def design(fm: FeatureMatrix, rows: I64, idf: F64) -> Any:
    """The model input for ``rows``: (1 + log tf) · idf, L2-normalised, plus the meta tokens."""
    from scipy import sparse

    x = fm.counts[rows].astype(np.float64)
    x.data = (1.0 + np.log(x.data)) * idf[x.indices]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    x = sparse.diags(1.0 / norms) @ x
    if fm.dense is not None:  # embedding columns after the hashed ones (the artifact's weight rows likewise)
        emb = sparse.csr_matrix(fm.dense[rows].astype(np.float64) * EMBED_SCALE)
        return sparse.hstack([x + fm.meta[rows], emb]).tocsr()
    return (x + fm.meta[rows]).tocsr()


def _fit_one(x: Any, target: F64, kind: str, c: float) -> tuple[F64, float]:
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression

        y = target.astype(int)
        if y.min() == y.max():  # one class only: constant scorer
            return np.zeros(x.shape[1]), (8.0 if y[0] == 1 else -8.0)
        lr = LogisticRegression(C=c, solver="liblinear", max_iter=200)
        lr.fit(x, y)
        return lr.coef_.ravel().astype(np.float64), float(lr.intercept_[0])
    from sklearn.linear_model import Ridge

    rg = Ridge(alpha=1.0 / c, solver="sparse_cg", max_iter=500, tol=1e-4)
    rg.fit(x, target)
    return np.asarray(rg.coef_, dtype=np.float64).ravel(), float(rg.intercept_)


def fit_linear(fm: FeatureMatrix, scores: F64, rows: I64, kind: str, c: float) -> tuple[F64, F64, F64]:
    """Weights (dim, k-1), biases (k-1,) and idf fitted on ``rows``."""
    idf = idf_from(fm.counts[rows])
    x = design(fm, rows, idf)
    y, diff = tier_labels(scores[rows])
    k1 = scores.shape[1] - 1
    w = np.zeros((x.shape[1], k1))
    b = np.zeros(k1)
    for t in range(k1):
        w[:, t], b[t] = _fit_one(x, y[:, t] if kind == "logistic" else diff[:, t], kind, c)
    return w, b, idf


def fit_model(fm: FeatureMatrix, scores: F64, rows: I64, kind: str, cs: Cs) -> tuple[F64, F64, F64]:
    """``fit_linear`` for any kind: an ensemble's members are fitted on the same rows (so they share the
    idf), their margins standardised on those rows, and the weights added into one linear scorer."""
    kinds = members(kind)
    if len(kinds) == 1:
        return fit_linear(fm, scores, rows, kinds[0], cs[kinds[0]])
    x = None
    w_sum = b_sum = idf = None
    for k in kinds:
        w, b, idf = fit_linear(fm, scores, rows, k, cs[k])
        if x is None:
            x = design(fm, rows, idf)
        m = np.asarray(x @ w) + b
        sd = m.std(axis=0)
        sd[sd == 0] = 1.0
        w_k, b_k = w / sd, (b - m.mean(axis=0)) / sd
        w_sum = w_k if w_sum is None else w_sum + w_k
        b_sum = b_k if b_sum is None else b_sum + b_k
    assert w_sum is not None and b_sum is not None and idf is not None
    return w_sum, b_sum, idf


def select_cs(fm: FeatureMatrix, scores: F64, rows: I64, groups: npt.NDArray[np.int64], kind: str,
              c: float | None = None, seed: int = 0) -> Cs:
    """Each member's regularisation: ``c`` if given, else chosen by inner CV on ``rows`` only."""
    return {k: c if c is not None else select_c(fm, scores, rows, groups, k, seed=seed) for k in members(kind)}


def margins(fm: FeatureMatrix, rows: I64, w: F64, b: F64, idf: F64) -> F64:
    out: F64 = np.asarray(design(fm, rows, idf) @ w) + b
    return out


def inner_apgr(fm: FeatureMatrix, scores: F64, rows: I64, groups: npt.NDArray[np.int64], kind: str, c: float,
               folds: int = 3, seed: int = 0) -> float:
    """Mean APGR over non-top tiers (tier t vs the best dearer tier) of inner out-of-fold margins."""
    from smallfirst.routing.metrics import apgr, quality_curve

    fid = grouped_folds(groups[rows], folds, seed)
    m = np.zeros((len(rows), scores.shape[1] - 1))
    for f in range(folds):
        tr, te = rows[fid != f], np.flatnonzero(fid == f)
        if len(te) == 0 or len(tr) == 0:
            continue
        w, b, idf = fit_linear(fm, scores, tr, kind, c)
        m[te] = margins(fm, rows[te], w, b, idf)
    vals = []
    for t in range(scores.shape[1] - 1):
        weak, strong = scores[rows, t], scores[rows, t + 1:].max(axis=1)
        if strong.mean() == weak.mean():
            continue
        cc, q = quality_curve(-m[:, t], weak, strong)
        vals.append(apgr(cc, q, float(weak.mean()), float(strong.mean())))
    return float(np.mean(vals)) if vals else 0.0


def select_c(fm: FeatureMatrix, scores: F64, rows: I64, groups: npt.NDArray[np.int64], kind: str,
             grid: tuple[float, ...] = C_GRID, max_rows: int = 4000, seed: int = 0) -> float:
    """The regularisation strength with the best inner-CV APGR (ties → the stronger regularisation),
    measured on at most ``max_rows`` of the rows (a seeded random subset) to bound the cost."""
    if len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=max_rows, replace=False))
    best_c, best_v = grid[0], -np.inf
    for c in grid:
        v = inner_apgr(fm, scores, rows, groups, kind, c)
        if v > best_v + 1e-9:
            best_c, best_v = c, v
    return best_c


def grouped_folds(groups: npt.ArrayLike, k: int, seed: int) -> I64:
    """Fold id per row; rows with the same group id share a fold; groups shuffled by ``seed``."""
    g = np.asarray(groups)
    uniq = np.unique(g)
    perm = np.random.default_rng(seed).permutation(len(uniq))
    fold_of = np.empty(len(uniq), dtype=np.int64)
    fold_of[perm] = np.arange(len(uniq)) % k
    out: I64 = fold_of[np.searchsorted(uniq, g)]
    return out


def fit_platt(m: F64, y: F64) -> tuple[float, float]:
    """1-D logistic fit p = sigmoid(a·m + b) (a ≥ 0 keeps the ranking)."""
    from sklearn.linear_model import LogisticRegression

    yi = y.astype(int)
    if yi.min() == yi.max() or np.ptp(m) == 0:
        p = float(np.clip(yi.mean(), 1e-3, 1 - 1e-3))
        return 0.0, float(np.log(p / (1 - p)))
    lr = LogisticRegression(C=100.0).fit(m.reshape(-1, 1), yi)
    return max(float(lr.coef_[0, 0]), 1e-6), float(lr.intercept_[0])


def train(table: OutcomeTable, spec: TrainSpec = TrainSpec(), fm: FeatureMatrix | None = None,
          progress: Progress | None = None, featurizer: HashedFeaturizer | None = None) -> LinearRouterModel:
    """Fit the router on every prompt of ``table``; out-of-fold probabilities come with it."""
    if len(table.tiers) < 2:
        raise ValueError("training a router needs outcomes for at least two tiers")
    feat = featurizer or HashedFeaturizer(bits=spec.bits, use_meta=spec.use_meta)
    t0 = time.time()
    if fm is None:
        fm = featurize(table.prompts, table.tasks, feat, features=spec.features)
    if uses_embedding(spec.features) != (fm.dense is not None):
        raise ValueError(f"the feature matrix does not match features={spec.features!r}")
    kind = spec.resolved_kind(table.scores)
    n, k1 = len(table), len(table.tiers) - 1
    folds = grouped_folds(table.groups, min(spec.folds, len(np.unique(table.groups))), spec.seed)
    cs = select_cs(fm, table.scores, np.arange(n), table.groups, kind, spec.c)
    oof_m = np.zeros((n, k1))
    for f in np.unique(folds):
        tr, te = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        w, b, idf = fit_model(fm, table.scores, tr, kind, cs)
        oof_m[te] = margins(fm, te, w, b, idf)
        if progress is not None:
            progress(1)
    y, _ = tier_labels(table.scores)
    platt = np.array([fit_platt(oof_m[:, t], y[:, t]) for t in range(k1)])
    w, b, idf = fit_model(fm, table.scores, np.arange(n), kind, cs)
    if progress is not None:
        progress(1)
    oof = sigmoid(platt[:, 0] * oof_m + platt[:, 1])
    c: float | Cs = cs.get(kind, cs)
    meta = {"kind": kind, "c": c, "c_selected": spec.c is None, "n_train": n, "folds": len(np.unique(folds)),
            "seed": spec.seed,
            "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "train_seconds": round(time.time() - t0, 2), "cost_unit": table.cost_unit,
            "tier_mean_score": table.scores.mean(axis=0).round(6).tolist()}
    return LinearRouterModel(featurizer=feat, tiers=table.tiers, weights=w.astype(np.float32), bias=b,
                             platt=platt, idf=idf.astype(np.float32), meta=meta, oof=oof,
                             oof_scores=table.scores, oof_costs=table.costs, features=spec.features,
                             embedder=LiveEmbedder() if uses_embedding(spec.features) else None)
