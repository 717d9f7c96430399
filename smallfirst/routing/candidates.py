"""Candidate routers for ``router bench``: each fits on training rows and rates test rows.

(Not to be confused with eval scorers, :mod:`smallfirst.evaluate.scorers`, which grade answers.)
A candidate returns ``goodness`` of shape ``(n_test, n_tiers - 1)``: higher means tier ``t`` is more
likely good enough (for two tiers, the strong tier is called for the lowest goodness first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from smallfirst.routing.features import HashedFeaturizer
from smallfirst.routing.metrics import roc_auc
from smallfirst.routing.model import F64, is_binary, tier_labels
from smallfirst.routing.outcomes import OutcomeTable
from smallfirst.routing.train import FeatureMatrix, fit_model, margins, select_cs

I64 = npt.NDArray[np.int64]


@dataclass
class BenchContext:
    """Lazily built per-table state shared by the candidates (features are computed once)."""

    table: OutcomeTable
    kind: str
    c: float | None = None  # None: chosen by inner CV
    bits: int = 18
    _fm: FeatureMatrix | None = None
    _fm_text: FeatureMatrix | None = None
    _levels: F64 | None = None
    _lengths: F64 | None = None
    _by_features: dict[str, FeatureMatrix] = field(default_factory=dict)

    def features_for(self, features: str) -> FeatureMatrix:
        """The learned router's matrix for ``embed`` / ``both`` (embeddings from the on-disk cache)."""
        if features not in self._by_features:
            from scipy import sparse

            from smallfirst.routing.embedding import embed_texts

            base = self.features(True)
            dense = embed_texts(self.table.prompts)
            counts = base.counts if features == "both" else sparse.csr_matrix(base.counts.shape)
            self._by_features[features] = FeatureMatrix(counts, base.meta, dense)
        return self._by_features[features]

    def features(self, with_meta: bool) -> FeatureMatrix:
        from scipy import sparse

        from smallfirst.routing.train import featurize

        if self._fm is None:
            feat = HashedFeaturizer(bits=self.bits, use_meta=True)
            self._fm = featurize(self.table.prompts, self.table.tasks, feat)
            self._fm_text = FeatureMatrix(self._fm.counts, sparse.csr_matrix(self._fm.meta.shape))
        fm = self._fm if with_meta else self._fm_text
        assert fm is not None
        return fm

    def lengths(self) -> F64:
        if self._lengths is None:
            self._lengths = np.array([len(p) for p in self.table.prompts], dtype=np.float64)
        return self._lengths

    def levels(self) -> F64:
        if self._levels is None:
            from smallfirst.routing.rules import complexity

            sig = HashedFeaturizer.prompt_signals
            self._levels = np.array([complexity(sig(p, t), 6000)[0]
                                     for p, t in zip(self.table.prompts, self.table.tasks, strict=True)],
                                    dtype=np.float64)
        return self._levels


Candidate = Callable[[BenchContext, I64, I64], F64]


def learned(with_meta: bool) -> Candidate:
    """The learned router's model, refitted per fold (C by inner CV on the training folds unless fixed)."""
    def run(ctx: BenchContext, tr: I64, te: I64) -> F64:
        fm = ctx.features(with_meta)
        cs = select_cs(fm, ctx.table.scores, tr, ctx.table.groups, ctx.kind, ctx.c)
        w, b, idf = fit_model(fm, ctx.table.scores, tr, ctx.kind, cs)
        return margins(fm, te, w, b, idf)
    return run


def learned_embed(features: str) -> Candidate:
    """The learned router on MiniLM embeddings (``embed``) or embeddings + n-grams (``both``), refitted per fold."""
    def run(ctx: BenchContext, tr: I64, te: I64) -> F64:
        fm = ctx.features_for(features)
        cs = select_cs(fm, ctx.table.scores, tr, ctx.table.groups, ctx.kind, ctx.c)
        w, b, idf = fit_model(fm, ctx.table.scores, tr, ctx.kind, cs)
        return margins(fm, te, w, b, idf)
    return run


def length_heuristic(ctx: BenchContext, tr: I64, te: I64) -> F64:
    """Prompt length in characters, sign fitted on the training rows."""
    y, _ = tier_labels(ctx.table.scores[tr])
    ln = ctx.lengths()
    out = np.zeros((len(te), y.shape[1]))
    for t in range(y.shape[1]):
        auc = roc_auc(ln[tr], y[:, t])
        sign = 1.0 if auc is None or auc >= 0.5 else -1.0
        out[:, t] = sign * ln[te]
    return out


def task_prior(ctx: BenchContext, tr: I64, te: I64) -> F64:
    """Share of training prompts of the same task where the tier was good enough (uses the task label)."""
    y, _ = tier_labels(ctx.table.scores[tr])
    tasks = ctx.table.tasks
    out = np.zeros((len(te), y.shape[1]))
    for t in range(y.shape[1]):
        sums: dict[str | None, list[float]] = {}
        for i, row in enumerate(tr):
            acc = sums.setdefault(tasks[int(row)], [0.0, 0.0])
            acc[0] += y[i, t]
            acc[1] += 1.0
        prior = float(y[:, t].mean())
        out[:, t] = [(sums[tasks[int(r)]][0] + prior) / (sums[tasks[int(r)]][1] + 1.0)
                     if tasks[int(r)] in sums else prior for r in te]
    return out


def rules_candidate(ctx: BenchContext, tr: I64, te: I64) -> F64:
    """The zero-config rules router: lower complexity level = cheaper tier good enough (not trained)."""
    lv = ctx.levels()[te]
    return np.repeat(-lv[:, None], ctx.table.scores.shape[1] - 1, axis=1)


def tfidf_lr(ctx: BenchContext, tr: I64, te: I64) -> F64:
    """Reference: sklearn TF-IDF (word 1–2 + char_wb 3–5, sublinear, min_df 2) + LR / ridge (bench only)."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge

    texts = ctx.table.prompts
    a = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_features=100_000)
    b = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2,
                        max_features=200_000)
    tr_t = [texts[int(i)] for i in tr]
    te_t = [texts[int(i)] for i in te]
    xtr = sparse.hstack([a.fit_transform(tr_t), b.fit_transform(tr_t)]).tocsr()
    xte = sparse.hstack([a.transform(te_t), b.transform(te_t)]).tocsr()
    y, diff = tier_labels(ctx.table.scores[tr])
    out = np.zeros((len(te), y.shape[1]))
    # the reference keeps one model: LR on 0/1 scores, ridge on graded ones (unless a kind is forced)
    kind = ctx.kind if ctx.kind in ("logistic", "ridge") else ("logistic" if is_binary(ctx.table.scores) else "ridge")
    for t in range(y.shape[1]):
        model: Any
        if kind == "logistic" and y[:, t].min() != y[:, t].max():
            model = LogisticRegression(C=ctx.c or 1.0, solver="liblinear").fit(xtr, y[:, t].astype(int))
            out[:, t] = model.decision_function(xte)
        elif kind != "logistic":
            model = Ridge(alpha=1.0 / (ctx.c or 1.0), solver="sparse_cg").fit(xtr, diff[:, t])
            out[:, t] = model.predict(xte)
    return out


CANDIDATES: dict[str, Candidate] = {
    "learned": learned(True),
    "learned-text": learned(False),
    "learned-embed": learned_embed("embed"),
    "learned-both": learned_embed("both"),
    "tfidf-lr": tfidf_lr,
    "task-prior": task_prior,
    "length": length_heuristic,
    "rules": rules_candidate,
}
EMBED_CANDIDATES = frozenset({"learned-embed", "learned-both"})  # need MiniLM vectors (cached on disk)
DEFAULT_CANDIDATES = ("learned", "learned-text", "task-prior", "length", "rules")
