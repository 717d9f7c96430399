"""The learned router on all-MiniLM-L6-v2 embeddings (the real model from the wheel): the on-disk cache,
training and routing with ``features`` embed / both, serve-time == training-time features, and an
n-gram artifact that never loads the model (no torch import)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from smallfirst.core.errors import ConfigError
from smallfirst.core.types import ChatRequest
from smallfirst.embeddings.minilm import MiniLMEmbedder
from smallfirst.embeddings.types import Embedded
from smallfirst.routing.embedding import EmbeddingCache, embed_texts, text_key
from smallfirst.routing.learned import LearnedRouter, ThresholdsFile
from smallfirst.routing.model import LinearRouterModel
from smallfirst.routing.outcomes import OutcomeTable, read_outcomes
from smallfirst.routing.train import TrainSpec, featurize, margins, train
from smallfirst.signals import extract

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "examples" / "outcomes.jsonl"
N_PROMPTS = 120  # bounded: the first prompts of the bundled RouteLLM sample


class CountingEmbedder(MiniLMEmbedder):
    """The real model; counts the texts it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def encode(self, texts: Sequence[str]) -> Embedded:
        self.texts += len(texts)
        return super().encode(texts)


@pytest.fixture(scope="module")
def embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def vec_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "router-embeddings.sqlite"
    monkeypatch.setenv("SMALLFIRST_ROUTER_EMBED_CACHE", str(path))
    return path


def small_table() -> OutcomeTable:
    rows = read_outcomes(str(SAMPLE))
    keep = list(dict.fromkeys(r.prompt_id for r in rows))[:N_PROMPTS]
    return OutcomeTable.from_rows([r for r in rows if r.prompt_id in set(keep)], tiers=["local", "frontier"])


def req(text: str) -> ChatRequest:
    return ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": text}], body={})


def test_the_cache_hits_on_the_second_run(tmp_path: Path, embedder: CountingEmbedder) -> None:
    cache = EmbeddingCache(tmp_path / "v.sqlite")
    texts = ["What is 2 + 2?", "Prove that there are infinitely many primes.", "What is 2 + 2?"]
    done: list[int] = []
    first = embed_texts(texts, embedder=embedder, cache=cache, progress=done.append)
    assert embedder.texts == 2  # the repeated text is embedded once
    assert sum(done) == 3 and first.shape == (3, 384)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-4)
    assert np.array_equal(first[0], first[2])
    again = embed_texts(texts, embedder=embedder, cache=cache)
    assert embedder.texts == 2  # nothing embedded the second time
    assert np.array_equal(first, again)
    keys = cache.get(["What is 2 + 2?", "never seen"])
    assert list(keys) == [0]
    assert text_key("a") != text_key("a", model_id="another-model")  # keyed by model id and text


def test_embed_and_both_features_train_route_and_round_trip(tmp_path: Path, vec_cache: Path) -> None:
    table = small_table()
    for features in ("embed", "both"):
        model = train(table, TrainSpec(kind="logistic", c=1.0, folds=3, features=features))
        assert model.features == features and model.embedder is not None
        dim = model.featurizer.dim
        assert model.weights.shape == (dim + 384, 1)
        path = model.save(tmp_path / f"{features}.npz")
        loaded = LinearRouterModel.load(path)
        assert loaded.features == features and loaded.embedder is not None
        with np.load(path, allow_pickle=False) as z:
            assert json.loads(bytes(z["meta"]).decode())["version"] == 2  # older readers refuse it
        # serve time (one prompt, live embedding) == training time (batched, cached) features
        texts = table.prompts[:6]
        fm = featurize(texts, [None] * 6, loaded.featurizer, features=features)  # no task hint, as live
        batch = margins(fm, np.arange(6), loaded.weights.astype(np.float64), loaded.bias,
                        loaded.idf.astype(np.float64))[:, 0]
        live = np.array([loaded.margins(t, extract(req(t)))[0] for t in texts])
        assert np.allclose(batch, live, atol=1e-3)
        router = LearnedRouter(loaded, ThresholdsFile(tiers=loaded.tiers, thresholds={"local": 0.5}, method="mix"))
        choice = router.choose(req(texts[0]), extract(req(texts[0])), ["local", "frontier"])
        assert choice.tier in ("local", "frontier") and choice.reason.startswith("learned:")
    assert vec_cache.is_file()  # training wrote the vectors where it says


def test_weights_that_do_not_match_the_features_are_refused(tmp_path: Path, vec_cache: Path) -> None:
    table = small_table()
    model = train(table, TrainSpec(kind="logistic", c=1.0, folds=2, features="ngrams"))
    bad = LinearRouterModel(featurizer=model.featurizer, tiers=model.tiers, weights=model.weights, bias=model.bias,
                            platt=model.platt, idf=model.idf, features="embed")
    path = bad.save(tmp_path / "bad.npz")
    with pytest.raises(ConfigError, match="weights have"):
        LinearRouterModel.load(path)


def test_an_ngram_artifact_never_loads_the_embedding_model(tmp_path: Path) -> None:
    table = small_table()
    model = train(table, TrainSpec(kind="logistic", c=1.0, folds=2))
    assert model.features == "ngrams" and model.embedder is None
    path = model.save(tmp_path / "ngrams.npz")
    code = (
        "import sys, json\n"
        "from smallfirst.core.types import ChatRequest\n"
        "from smallfirst.routing.learned import LearnedRouter\n"
        "from smallfirst.routing.model import LinearRouterModel\n"
        "from smallfirst.signals import extract\n"
        f"m = LinearRouterModel.load({str(path)!r})\n"
        "r = ChatRequest(model='smallfirst/auto', messages=[{'role': 'user', 'content': 'What is 2+2?'}], body={})\n"
        "c = LearnedRouter(m).choose(r, extract(r), ['local', 'frontier'])\n"
        "print(json.dumps({'tier': c.tier, 'embedder': m.embedder is not None,\n"
        "                  'torch': 'torch' in sys.modules,\n"
        "                  'st': 'sentence_transformers' in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["tier"] in ("local", "frontier")
    assert got == {**got, "embedder": False, "torch": False, "st": False}


def test_unknown_features_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown router features"):
        train(small_table(), TrainSpec(features="tfidf"))
