"""Sparse document vectors through scikit-learn: one-hot (presence), bag-of-words counts, TF-IDF and
NB-weighted n-grams (NBSVM, Wang & Manning 2012). Saved as JSON (settings, n-gram list) plus NPZ (weights)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

from data.atomic import write_json, write_with
from features.normalize import normalize_text
from features.tokenize import word_tokenize

SPARSE_KINDS = ("onehot", "bow", "tfidf", "nbsvm")


class SparseVectorizer:
    """Texts to a CSR matrix of n-gram features of one of the SPARSE_KINDS."""

    def __init__(
        self,
        kind: str = "tfidf",
        ngram_max: int = 2,
        max_features: int = 200_000,
        min_df: int = 2,
        sublinear_tf: bool = True,
        lowercase: bool = True,
        nb_alpha: float = 1.0,
    ):
        if kind not in SPARSE_KINDS:
            raise ValueError(f"unknown sparse feature kind '{kind}'; known: {', '.join(SPARSE_KINDS)}")
        if ngram_max < 1:
            raise ValueError(f"features.ngram_max must be at least 1, got {ngram_max}")
        self.kind = kind
        self.ngram_max = ngram_max
        self.max_features = max_features
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.lowercase = lowercase
        self.nb_alpha = nb_alpha
        self.counter: CountVectorizer | None = None
        self.tfidf: TfidfTransformer | None = None
        self.nb_ratio: np.ndarray | None = None

    def settings(self) -> dict:
        return {
            "kind": self.kind,
            "ngram_max": self.ngram_max,
            "max_features": self.max_features,
            "min_df": self.min_df,
            "sublinear_tf": self.sublinear_tf,
            "lowercase": self.lowercase,
            "nb_alpha": self.nb_alpha,
        }

    def _make_counter(self, vocabulary: dict[str, int] | None = None) -> CountVectorizer:
        lowercase = self.lowercase
        return CountVectorizer(
            preprocessor=lambda text: normalize_text(text, lowercase=lowercase),
            tokenizer=word_tokenize,
            token_pattern=None,
            lowercase=False,
            ngram_range=(1, self.ngram_max),
            min_df=self.min_df if vocabulary is None else 1,
            max_features=(self.max_features or None) if vocabulary is None else None,
            binary=self.kind in ("onehot", "nbsvm"),
            vocabulary=vocabulary,
            dtype=np.float32,
        )

    @property
    def feature_names(self) -> np.ndarray:
        return self.counter.get_feature_names_out()

    @property
    def dim(self) -> int:
        return len(self.counter.vocabulary_)

    def fit_transform(self, texts: Sequence[str], labels: Sequence[int] | None = None) -> sp.csr_matrix:
        """Learn the n-gram vocabulary (and idf or NB ratios) on training texts and transform them."""
        self.counter = self._make_counter()
        counts = self.counter.fit_transform(texts).astype(np.float32)
        if self.kind == "tfidf":
            self.tfidf = TfidfTransformer(sublinear_tf=self.sublinear_tf)
            self.tfidf.fit(counts)
        if self.kind == "nbsvm":
            if labels is None or len(set(labels)) != 2:
                raise ValueError("features.kind = 'nbsvm' needs binary labels")
            labels = np.asarray(labels)
            positive = self.nb_alpha + np.asarray(counts[labels == 1].sum(axis=0)).ravel()
            negative = self.nb_alpha + np.asarray(counts[labels == 0].sum(axis=0)).ravel()
            self.nb_ratio = np.log((positive / positive.sum()) / (negative / negative.sum())).astype(
                np.float32
            )
        return self._weight(counts)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Apply the learned transform to new texts."""
        if self.counter is None:
            raise ValueError("the vectorizer is not fitted")
        return self._weight(self.counter.transform(texts).astype(np.float32))

    def _weight(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        if self.kind == "tfidf":
            return self.tfidf.transform(counts).astype(np.float32).tocsr()
        if self.kind == "nbsvm":
            return sp.csr_matrix(counts.multiply(self.nb_ratio[np.newaxis, :]), dtype=np.float32)
        return counts.tocsr()

    def save(self, directory: str | Path) -> None:
        """Write vectorizer.json (settings and n-grams in column order) and vectorizer.npz (idf, NB ratios)."""
        directory = Path(directory)
        arrays = {}
        if self.tfidf is not None:
            arrays["idf"] = self.tfidf.idf_.astype(np.float64)
        if self.nb_ratio is not None:
            arrays["nb_ratio"] = self.nb_ratio
        write_with(directory / "vectorizer.npz", lambda tmp: np.savez(tmp, **arrays))
        write_json(
            directory / "vectorizer.json",
            {"settings": self.settings(), "ngrams": self.feature_names.tolist()},
        )

    @classmethod
    def load(cls, directory: str | Path) -> SparseVectorizer:
        """Rebuild a saved vectorizer; its transform is identical to the fitted one."""
        directory = Path(directory)
        data = json.loads((directory / "vectorizer.json").read_text(encoding="utf-8"))
        self = cls(**data["settings"])
        self.counter = self._make_counter({ngram: index for index, ngram in enumerate(data["ngrams"])})
        self.counter.fit([""])  # sets vocabulary_ from the fixed vocabulary
        with np.load(directory / "vectorizer.npz", allow_pickle=False) as arrays:
            if "idf" in arrays:
                self.tfidf = TfidfTransformer(sublinear_tf=self.sublinear_tf)
                self.tfidf.idf_ = arrays["idf"]
            if "nb_ratio" in arrays:
                self.nb_ratio = arrays["nb_ratio"]
        return self
