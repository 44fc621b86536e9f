"""features.sparse.SparseVectorizer: onehot, bow, tfidf and nbsvm, saved as JSON + NPZ and reloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features.sparse import SPARSE_KINDS, SparseVectorizer

TRAIN = [
    "great great film, loved it",
    "awful film<br />boring plot",
    "great cast and a great plot",
    "boring, awful, dull",
    "loved the cast",
    "dull film",
]
LABELS = [1, 0, 1, 0, 1, 0]
UNSEEN = ["GREAT plot but dull dull cast", "never seen words only", "loved it, great film!"]


@pytest.mark.parametrize("kind", SPARSE_KINDS)
def test_save_load_reproduces_transform_on_unseen_text(tmp_path: Path, kind: str) -> None:
    vectorizer = SparseVectorizer(kind, ngram_max=2, min_df=1, max_features=50)
    x_train = vectorizer.fit_transform(TRAIN, LABELS)
    assert x_train.shape == (len(TRAIN), vectorizer.dim) and vectorizer.dim <= 50
    vectorizer.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectorizer.json", "vectorizer.npz"]
    loaded = SparseVectorizer.load(tmp_path)
    assert loaded.settings() == vectorizer.settings()
    assert list(loaded.feature_names) == list(vectorizer.feature_names)
    before, after = vectorizer.transform(UNSEEN), loaded.transform(UNSEEN)
    assert after.dtype == np.float32
    assert np.array_equal(before.toarray(), after.toarray())
    assert before.nnz > 0
    assert after[1].nnz == 0  # only unknown words


def test_onehot_is_binary_and_bow_counts() -> None:
    text = ["great great great film"]
    onehot = SparseVectorizer("onehot", ngram_max=1, min_df=1)
    bow = SparseVectorizer("bow", ngram_max=1, min_df=1)
    onehot.fit_transform(TRAIN)
    bow.fit_transform(TRAIN)
    great_onehot = list(onehot.feature_names).index("great")
    great_bow = list(bow.feature_names).index("great")
    assert onehot.transform(text).toarray()[0, great_onehot] == 1.0
    assert bow.transform(text).toarray()[0, great_bow] == 3.0
    assert set(np.unique(onehot.transform(TRAIN).toarray())) <= {0.0, 1.0}


def test_tfidf_rows_are_unit_length_and_nbsvm_weights_by_class() -> None:
    tfidf = SparseVectorizer("tfidf", ngram_max=1, min_df=1)
    rows = tfidf.fit_transform(TRAIN).toarray()
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0)
    nbsvm = SparseVectorizer("nbsvm", ngram_max=1, min_df=1)
    nbsvm.fit_transform(TRAIN, LABELS)
    names = list(nbsvm.feature_names)
    assert nbsvm.nb_ratio[names.index("loved")] > 0 > nbsvm.nb_ratio[names.index("awful")]
    with pytest.raises(ValueError, match="binary labels"):
        SparseVectorizer("nbsvm", min_df=1).fit_transform(TRAIN, [0, 1, 2, 0, 1, 2])


def test_bad_settings_refused() -> None:
    with pytest.raises(ValueError, match="unknown sparse feature kind 'word2vec'"):
        SparseVectorizer("word2vec")
    with pytest.raises(ValueError, match="ngram_max"):
        SparseVectorizer("bow", ngram_max=0)
    with pytest.raises(ValueError, match="not fitted"):
        SparseVectorizer("bow").transform(["x"])
