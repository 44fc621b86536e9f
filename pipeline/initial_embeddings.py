"""featurize's optional initial token table: `features.embeddings` -> features/embeddings.npy.

"word2vec" trains vectors on the run's own training tokens (never valid or test text) and keeps them in
features/word2vec/; any other value is handed to `features.embeddings.load_vectors` (a registry name, a
vectors directory or a GloVe/word2vec file). Coverage of the vocabulary goes into features/info.json and so
into the manifest.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from data.atomic import write_with
from data.errors import DataError
from data.registry import vector_names
from features.embedding_matrix import embedding_matrix
from features.embeddings import load_vectors, save_vectors
from features.vocabulary import Vocabulary
from features.word2vec import train_word2vec, word_counts
from pipeline.errors import PipelineError

MATRIX_FILE = "embeddings.npy"


def check_source(source: str) -> None:
    """Refuse a features.embeddings value that names nothing, before any work is done."""
    if source in ("random", "word2vec") or Path(source).expanduser().exists():
        return
    if source in vector_names():
        return
    raise PipelineError(
        f"features.embeddings '{source}': no such file or directory; use random, word2vec, "
        f"{', '.join(vector_names())} or a path to a GloVe/word2vec file"
    )


def source_fingerprint(source: str) -> dict:
    """What identifies a vectors path beyond its name (size and modification time of its files), so that
    replacing the file redoes featurize; empty for registry names, "random" and "word2vec"."""
    path = Path(source).expanduser()
    if source in ("random", "word2vec") or not path.exists():
        return {}
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    return {f.name: [f.stat().st_size, f.stat().st_mtime_ns] for f in files if f.is_file()}


def initial_embeddings(
    cfg: dict, vocab: Vocabulary, train_tokens: Sequence[Sequence[str]], out_dir: Path, seed: int
) -> dict:
    """Write features/embeddings.npy for `vocab`; returns info entries (with the files written)."""
    source = cfg["embeddings"]
    started = time.time()
    files = [MATRIX_FILE]
    details: dict = {"source": source}
    try:
        if source == "word2vec":
            print(f"featurize: training word2vec on {len(train_tokens)} training texts")
            kv, stats = train_word2vec(train_tokens, cfg["word2vec"], seed=seed, workdir=out_dir)
            files += [f"word2vec/{name}" for name in save_vectors(out_dir / "word2vec", kv, word_counts(kv))]
            details["word2vec"] = stats
        else:
            kv = load_vectors(source)
    except DataError as error:
        raise PipelineError(f"features.embeddings: {error}") from None
    counts = Counter(token for tokens in train_tokens for token in tokens)
    matrix, coverage = embedding_matrix(vocab, kv, seed, token_counts=counts)
    write_with(out_dir / MATRIX_FILE, lambda tmp: np.save(tmp, matrix))
    details.update(coverage)
    details["dim"] = int(matrix.shape[1])
    details["seconds"] = round(time.time() - started, 2)
    print(
        f"featurize: {source} vectors ({matrix.shape[1]}d) cover {coverage['coverage']:.1%} of the vocabulary, "
        f"{details['token_coverage']:.1%} of training tokens"
    )
    return {"embeddings": details, "embedding_dim": int(matrix.shape[1]), "extra_files": files}
