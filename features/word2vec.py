"""word2vec with gensim: skip-gram or CBOW with negative sampling over tokenised documents.

The documents are streamed once into a temporary one-document-per-line file and trained with gensim's
`corpus_file` mode (C workers that do not hold the GIL; memory stays flat however large the corpus).
Initial vectors come from the seed; with `workers = 1` the result is identical from run to run, with more
workers thread scheduling makes it vary slightly (gensim's documented behaviour).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from gensim.models import Word2Vec
from gensim.models.callbacks import CallbackAny2Vec
from gensim.models.keyedvectors import KeyedVectors

from data.errors import DataError
from data.progress import progress as progress_bar

WORD2VEC_DEFAULTS = {
    "sg": False,  # skip-gram (true) or CBOW (false)
    "dim": 100,
    "window": 5,
    "min_count": 5,
    "negative": 5,
    "epochs": 5,
    "sample": 1e-3,  # downsampling of frequent words
    "workers": 0,  # 0 = one per CPU core
}


class _EpochBar(CallbackAny2Vec):
    """A tqdm bar over epochs."""

    def __init__(self, epochs: int, enabled: bool):
        self.bar = progress_bar(total=epochs, desc="word2vec", unit="epoch", disable=not enabled)

    def on_epoch_end(self, model):
        self.bar.update(1)

    def on_train_end(self, model):
        self.bar.close()


def worker_count(requested: int) -> int:
    """`requested`, or the number of usable CPU cores for 0."""
    if requested > 0:
        return requested
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def train_word2vec(
    documents: Iterable[Sequence[str]],
    settings: dict | None = None,
    seed: int = 1337,
    progress: bool = True,
    workdir: str | Path | None = None,
) -> tuple[KeyedVectors, dict]:
    """Train word2vec on tokenised documents; returns (vectors, stats) with the word counts in
    `kv.expandos["count"]` and `stats` = documents, tokens, vocabulary_size, workers, train_seconds."""
    cfg = {**WORD2VEC_DEFAULTS, **(settings or {})}
    unknown = sorted(set(cfg) - set(WORD2VEC_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown word2vec settings {unknown}; known: {', '.join(WORD2VEC_DEFAULTS)}")
    workers = worker_count(int(cfg["workers"]))
    handle, corpus_name = tempfile.mkstemp(prefix=".word2vec-corpus-", suffix=".txt", dir=workdir)
    corpus = Path(corpus_name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            n_documents = n_tokens = 0
            for tokens in documents:
                if not tokens:
                    continue
                out.write(" ".join(tokens))
                out.write("\n")
                n_documents += 1
                n_tokens += len(tokens)
        if n_tokens == 0:
            raise DataError("word2vec: empty corpus (no tokens to train on)")
        started = time.time()
        model = Word2Vec(
            vector_size=int(cfg["dim"]),
            window=int(cfg["window"]),
            min_count=int(cfg["min_count"]),
            sg=int(bool(cfg["sg"])),
            hs=0,
            negative=int(cfg["negative"]),
            sample=float(cfg["sample"]),
            seed=seed,
            workers=workers,
        )
        model.build_vocab(corpus_file=str(corpus))
        if not model.wv.index_to_key:
            raise DataError(
                f"word2vec: no word occurs at least min_count={cfg['min_count']} times in the "
                f"{n_tokens} tokens of the corpus"
            )
        model.train(
            corpus_file=str(corpus),
            total_examples=model.corpus_count,
            total_words=model.corpus_total_words,
            epochs=int(cfg["epochs"]),
            callbacks=[_EpochBar(int(cfg["epochs"]), progress)],
        )
        seconds = time.time() - started
    finally:
        corpus.unlink(missing_ok=True)
    kv = model.wv
    kv.vectors = np.asarray(kv.vectors, dtype=np.float32)
    stats = {
        "documents": n_documents,
        "tokens": n_tokens,
        "vocabulary_size": len(kv.index_to_key),
        "workers": workers,
        "train_seconds": round(seconds, 2),
    }
    return kv, stats


def word_counts(kv: KeyedVectors) -> list[int] | None:
    """The corpus counts gensim keeps for each word of a trained model, if any."""
    if "count" not in kv.expandos:
        return None
    return [int(c) for c in kv.expandos["count"]]
