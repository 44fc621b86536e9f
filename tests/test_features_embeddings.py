"""features.embeddings / embedding_matrix / embedding_eval / word2vec: loading, caching, exporting,
the packaged GloVe figures, the Keras token table, and word2vec training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from data.errors import DataError
from data.vectors import write_vector_file
from features.embedding_eval import analogy, evaluate_vectors, neighbors
from features.embedding_matrix import contraction_parts, embedding_matrix
from features.embeddings import (
    export_vectors,
    file_cache_dir,
    keyed_vectors,
    load_vectors,
    read_saved_vectors,
    save_vectors,
)
from features.vocabulary import Vocabulary
from features.word2vec import train_word2vec


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_CACHE_DIR", str(tmp_path / "cache"))


def _small_file(path: Path, fmt: str = "glove") -> tuple[list[str], np.ndarray]:
    words = ["the", "good", "great", "bad", "awful", "do", "n't", "it", "'s", "Paris"]
    vectors = np.random.default_rng(1).normal(size=(len(words), 6)).astype(np.float32)
    write_vector_file(path, words, vectors, fmt)
    return words, vectors


def test_a_vector_file_is_converted_once_then_memory_mapped(tmp_path: Path) -> None:
    path = tmp_path / "my-vectors.txt"
    words, vectors = _small_file(path)
    first = load_vectors(path)
    cached = file_cache_dir(path)
    assert (cached / "vectors.npy").is_file() and (cached / "words.json").is_file()
    info = json.loads((cached / "words.json").read_text())
    assert info["source_format"] == "glove" and info["words"] == words
    second = load_vectors(str(path))
    assert isinstance(second.vectors, np.memmap)
    np.testing.assert_allclose(second.vectors, vectors, atol=1e-5)
    assert first.index_to_key == second.index_to_key == words
    # A changed file gets a new cache entry rather than stale vectors.
    write_vector_file(path, words, vectors * 2, "glove")
    np.testing.assert_allclose(load_vectors(path)["good"], vectors[1] * 2, atol=1e-5)


@pytest.mark.parametrize("fmt", ["word2vec", "word2vec-binary", "glove"])
def test_export_round_trips(tmp_path: Path, fmt: str) -> None:
    words, vectors = _small_file(tmp_path / "source.txt")
    kv = load_vectors(tmp_path / "source.txt")
    out = tmp_path / f"exported.{fmt}"
    export_vectors(kv, out, fmt)
    again = load_vectors(out)
    assert again.index_to_key == words
    np.testing.assert_allclose(again.vectors, kv.vectors, atol=1e-5)


def test_saved_directory_round_trip_keeps_counts(tmp_path: Path) -> None:
    kv = keyed_vectors(["a", "b", "c"], np.eye(3, dtype=np.float32))
    save_vectors(tmp_path / "v", kv, counts=[5, 3, 1])
    loaded = load_vectors(tmp_path / "v")
    assert loaded.index_to_key == ["a", "b", "c"]
    assert list(loaded.expandos["count"]) == [5, 3, 1]
    np.testing.assert_array_equal(loaded.vectors, np.eye(3))


def test_repeated_words_keep_their_first_vector() -> None:
    kv = keyed_vectors(["a", "b", "a"], np.arange(6, dtype=np.float32).reshape(3, 2))
    assert kv.index_to_key == ["a", "b"]
    np.testing.assert_array_equal(kv["a"], [0, 1])


def test_unknown_sources_and_broken_directories_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a registry name"):
        load_vectors(tmp_path / "absent.txt")
    with pytest.raises(DataError, match="imdb is a labelled-text dataset"):
        load_vectors("imdb")
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(DataError, match="without vectors.npy"):
        load_vectors(tmp_path / "empty-dir")
    broken = tmp_path / "broken"
    save_vectors(broken, keyed_vectors(["a", "b"], np.ones((2, 3), np.float32)))
    np.save(broken / "vectors.npy", np.ones((3, 3), np.float32))
    with pytest.raises(DataError, match="lists 2 words but vectors.npy has shape"):
        read_saved_vectors(broken)


def test_packaged_glove_gives_gensims_figures() -> None:
    """GloVe 6B 50d's figures as gensim's evaluators give them on the packaged vectors. Analogies among the
    5,000 most frequent words (1.7 s): the reference restriction, 30,000 words (0.4969), takes 25 s alone and
    is `make bench-embeddings`'s (reports/embeddings.md)."""
    kv = load_vectors("glove-6b-50d")
    assert kv.vectors.shape == (400_000, 50) and kv.index_to_key[:3] == ["the", ",", "."]
    metrics = evaluate_vectors(kv, restrict_vocab=5_000)
    assert round(metrics["analogy_accuracy"], 4) == 0.6497 and metrics["analogy_answered"] == 2_872
    assert round(metrics["wordsim353_spearman"], 3) == 0.503
    assert round(metrics["simlex999_spearman"], 3) == 0.263
    assert metrics["analogy_questions"] == 19_544
    assert metrics["analogy_answered"] + round(metrics["analogy_oov_rate"] * 19_544) == pytest.approx(
        19_544, abs=1
    )
    assert len(metrics["analogy_sections"]) == 14
    assert 0 < metrics["analogy_semantic"] < 1 and 0 < metrics["analogy_syntactic"] < 1
    assert analogy(kv, "king", "queen", "son")[0][0] == "daughter"
    assert "queen" in [word for word, _ in neighbors(kv, "King", topn=5)]  # lower-case fallback
    with pytest.raises(DataError, match="unknown word 'qwzxv'"):
        analogy(kv, "king", "queen", "qwzxv")


def test_embedding_matrix_rows_coverage_and_seed(tmp_path: Path) -> None:
    words, vectors = _small_file(tmp_path / "v.txt")
    kv = load_vectors(tmp_path / "v.txt")
    vocab = Vocabulary(["<pad>", "<unk>", "<start>", "<end>", "good", "Bad", "don't", "it's", "zzz", "paris"])
    counts = {"good": 5, "Bad": 3, "don't": 2, "it's": 1, "zzz": 4, "paris": 1, "rare": 4}
    matrix, coverage = embedding_matrix(vocab, kv, seed=7, token_counts=counts)
    assert matrix.shape == (10, 6) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[0], 0)  # <pad>
    np.testing.assert_allclose(matrix[4], kv["good"])
    np.testing.assert_allclose(matrix[5], kv["bad"])  # lower-case fallback
    np.testing.assert_allclose(matrix[6], (kv["do"] + kv["n't"]) / 2, rtol=1e-6)  # composed contraction
    np.testing.assert_allclose(matrix[7], (kv["it"] + kv["'s"]) / 2, rtol=1e-6)
    assert (
        coverage["found_exact"] == 1 and coverage["found_lowercase"] == 1 and coverage["found_composed"] == 2
    )
    assert coverage["random_rows"] == 2 and coverage["oov_examples"] == ["zzz", "paris"]
    assert coverage["coverage"] == round(4 / 6, 4)
    assert coverage["token_coverage"] == round(11 / 20, 4)  # zzz and the out-of-vocabulary "rare" miss
    again, _ = embedding_matrix(vocab, kv, seed=7)
    other, _ = embedding_matrix(vocab, kv, seed=8)
    np.testing.assert_array_equal(matrix, again)
    assert not np.allclose(matrix[8], other[8])  # random rows follow the seed


@pytest.mark.parametrize(
    ("token", "parts"),
    [
        ("don't", ["do", "n't"]),
        ("can't", ["can", "n't"]),
        ("won't", ["will", "n't"]),
        ("film's", ["film", "'s"]),
        ("i’m", ["i", "'m"]),
        ("word", []),
        ("'tis", []),
        ("rock'n'roll", []),
    ],
)
def test_contraction_parts(token: str, parts: list[str]) -> None:
    assert contraction_parts(token) == parts


def _topic_corpus(n: int = 400) -> list[list[str]]:
    """Two topics whose words share contexts only within a topic."""
    rng = np.random.default_rng(0)
    topics = [["cat", "dog", "pet", "fur", "paw"], ["stock", "bond", "market", "price", "trade"]]
    return [list(rng.choice(topics[i % 2], size=12)) for i in range(n)]


def test_word2vec_learns_topics_and_is_repeatable_with_one_worker(tmp_path: Path) -> None:
    settings = {"dim": 16, "window": 3, "min_count": 1, "epochs": 10, "workers": 1, "sample": 0.0}
    kv, stats = train_word2vec(_topic_corpus(), settings, seed=3, progress=False, workdir=tmp_path)
    assert stats["documents"] == 400 and stats["tokens"] == 4800 and stats["vocabulary_size"] == 10
    assert kv.similarity("cat", "dog") > kv.similarity("cat", "stock") + 0.2
    again, _ = train_word2vec(_topic_corpus(), settings, seed=3, progress=False, workdir=tmp_path)
    np.testing.assert_array_equal(kv.vectors, again.vectors)
    assert sum(kv.expandos["count"]) == 4800
    assert list(tmp_path.iterdir()) == []  # the temporary corpus file is gone
    sg, _ = train_word2vec(_topic_corpus(), {**settings, "sg": True}, seed=3, progress=False)
    assert sg.similarity("bond", "trade") > sg.similarity("bond", "paw")


def test_word2vec_refuses_an_empty_corpus_and_unknown_settings() -> None:
    with pytest.raises(DataError, match="empty corpus"):
        train_word2vec([[], []], {"workers": 1}, progress=False)
    with pytest.raises(DataError, match="min_count=50"):
        train_word2vec([["a", "b"]], {"min_count": 50, "workers": 1}, progress=False)
    with pytest.raises(ValueError, match="unknown word2vec settings"):
        train_word2vec([["a"]], {"size": 3}, progress=False)


def test_registry_glove_comes_from_the_cached_stanford_zip(tmp_path: Path) -> None:
    """glove-6b-300d: the downloaded glove.6B.zip is read once (its member) and cached as .npy + JSON."""
    import zipfile

    from data.locate import cache_path

    words = ["the", "of", "film"]
    vectors = np.arange(9, dtype=np.float32).reshape(3, 3)
    member = tmp_path / "glove.6B.300d.txt"
    write_vector_file(member, words, vectors, "glove")
    archive = cache_path("glove-6b-300d")
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as out:
        out.write(member, "glove.6B.300d.txt")
        out.writestr("glove.6B.50d.txt", "the 1 2\n")
    kv = load_vectors("glove-6b-300d", progress=False)
    assert kv.index_to_key == words
    np.testing.assert_array_equal(kv.vectors, vectors)
    archive.unlink()  # now served from the converted cache
    assert isinstance(load_vectors("glove-6b-300d").vectors, np.memmap)
