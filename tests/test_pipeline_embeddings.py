"""`python -m pipeline embeddings ...` and embedding-initialised sentiment runs (features.embeddings)."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from data.vectors import write_vector_file
from features.embeddings import load_vectors
from pipeline import load_run
from tests.conftest import SEQUENCE, assert_one_line_error, invoke, make_reviews, write_config


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture()
def corpus_txt(tmp_path: Path) -> Path:
    texts = make_reviews(300, seed=4)["text"]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return path


def _review_vectors(path: Path, dim: int = 8) -> Path:
    """A GloVe-format file covering the synthetic reviews' words (lower case) plus a few others."""
    words = sorted({w for text in make_reviews(200)["text"] for w in text.lower().replace(".", " ").split()})
    words = [w for w in words if w.isalpha()] + ["unrelated", "words"]
    vectors = np.random.default_rng(0).normal(size=(len(words), dim)).astype(np.float32)
    write_vector_file(path, words, vectors, "glove")
    return path


def test_train_word2vec_writes_a_run_and_evaluates_it(tmp_path: Path, corpus_txt: Path) -> None:
    run = tmp_path / "w2v"
    args = ["embeddings", "train-word2vec", "--corpus", corpus_txt, "--dim", 12, "--min-count", 1]
    result = invoke(*args, "--epochs", 2, "--workers", 1, "--name", run)
    assert result.exit_code == 0, result
    assert {"config.toml", "manifest.json", "vectors.npy", "words.json", "metrics.json"} <= {
        p.name for p in run.iterdir()
    }
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["task"] == "embeddings" and manifest["seed"] == 1337
    record = manifest["stages"]["train"]
    assert record["corpus"]["documents"] == 300 and record["word2vec"]["workers"] == 1
    assert str(corpus_txt) in record["corpus"]["sources"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert {
        "analogy_accuracy",
        "wordsim353_spearman",
        "simlex999_spearman",
        "analogy_oov_rate",
    } <= metrics.keys()
    kv = load_vectors(run)
    assert kv.vector_size == 12 and isinstance(kv.vectors, np.memmap)
    counts = list(kv.expandos["count"])
    assert counts == sorted(counts, reverse=True)  # most frequent first, as gensim sorts them
    # The same command again is up to date; other settings are refused without --force.
    again = invoke(*args, "--epochs", 2, "--workers", 1, "--name", run, "--no-evaluate")
    assert again.exit_code == 0 and "up to date" in again.stdout
    changed = invoke(*args, "--epochs", 3, "--workers", 1, "--name", run)
    assert_one_line_error(changed, "features.word2vec.epochs", "--force")


def test_neighbors_analogy_evaluate_and_export_on_a_file(tmp_path: Path, capsys) -> None:
    vectors = _review_vectors(tmp_path / "vecs.txt")
    result = invoke("embeddings", "neighbors", "--vectors", vectors, "--topn", 3, "--json", "great", "Awful")
    assert result.exit_code == 0, result
    found = json.loads(result.stdout)
    assert list(found) == ["great", "Awful"] and len(found["great"]) == 3
    assert all(-1 <= score <= 1 for _, score in found["great"])
    result = invoke("embeddings", "analogy", "--vectors", vectors, "great", "awful", "superb")
    assert result.exit_code == 0 and result.stdout.startswith("great : awful = superb : ")
    result = invoke("embeddings", "evaluate", "--vectors", vectors, "--output", tmp_path / "m.json")
    assert result.exit_code == 0, result
    assert "analogies (restrict_vocab 30,000)" in result.stdout
    assert json.loads((tmp_path / "m.json").read_text())["vocabulary_size"] > 10
    for fmt in ("word2vec", "word2vec-binary", "glove"):
        out = tmp_path / f"out.{fmt}"
        result = invoke("embeddings", "export", "--vectors", vectors, "--format", fmt, "--output", out)
        assert result.exit_code == 0, result
        np.testing.assert_allclose(load_vectors(out).vectors, load_vectors(vectors).vectors, atol=1e-5)
    result = invoke("embeddings", "export", "--vectors", vectors, "--output", "-")
    assert result.stdout.splitlines()[0].split() == [str(len(load_vectors(vectors).index_to_key)), "8"]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["analogy", "great", "awful", "qqqzzz"], ["unknown word 'qqqzzz'"]),
        (["neighbors", "zzzqqq"], ["unknown word 'zzzqqq'"]),
    ],
)
def test_unknown_words_are_one_line_errors(tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    vectors = _review_vectors(tmp_path / "vecs.txt")
    assert_one_line_error(invoke("embeddings", args[0], "--vectors", vectors, *args[1:]), *fragments)


def test_bad_vector_files_and_corpora_are_one_line_errors(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("good 0.1 0.2\nbad 0.3\n")
    assert_one_line_error(
        invoke("embeddings", "neighbors", "--vectors", ragged, "good"), str(ragged), "line 2", "expected 2"
    )
    text = tmp_path / "text.txt"
    text.write_text("good 0.1 0.2\nbad 0.3 x\n")
    assert_one_line_error(
        invoke("embeddings", "evaluate", "--vectors", text), "line 2", "non-numeric value 'x'"
    )
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    assert_one_line_error(
        invoke("embeddings", "train-word2vec", "--corpus", empty, "--name", tmp_path / "w"), "empty"
    )
    assert_one_line_error(
        invoke("embeddings", "train-word2vec", "--corpus", "glove-6b-50d", "--name", tmp_path / "w2"),
        "not a text corpus",
    )
    assert_one_line_error(
        invoke("embeddings", "neighbors", "--vectors", tmp_path / "nope.txt", "a"), "nope.txt"
    )


def test_a_sentiment_run_is_not_an_embeddings_run(tmp_path: Path, tfidf_run: Path) -> None:
    assert_one_line_error(
        invoke("embeddings", "evaluate", "--vectors", tfidf_run), "task 'sentiment'", "not 'embeddings'"
    )


def _sentiment_with(tmp_path: Path, name: str, dataset: Path, **features) -> Path:
    config = write_config(
        tmp_path / f"{name}.toml",
        dataset,
        features={**SEQUENCE["features"], **features},
        model={**SEQUENCE["model"], "rnn_pooling": "max_mean"},
    )
    run = tmp_path / name
    result = invoke("run", "--config", config, "--name", run)
    assert result.exit_code == 0, result
    return run


def test_frozen_pretrained_vectors_initialise_and_stay(tmp_path: Path, reviews_csv: Path) -> None:
    vectors = _review_vectors(tmp_path / "vecs.txt", dim=8)
    run = _sentiment_with(
        tmp_path, "frozen", reviews_csv, embeddings=str(vectors), trainable_embeddings=False
    )
    info = json.loads((run / "features" / "info.json").read_text())
    assert info["embedding_dim"] == 8 and info["embeddings"]["coverage"] > 0.8
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["featurize"]["embeddings"]["source"] == str(vectors)
    matrix = np.load(run / "features" / "embeddings.npy")
    model = keras.saving.load_model(run / "model.keras", safe_mode=True)
    table = model.get_layer("embedding")
    assert not table.trainable
    np.testing.assert_allclose(keras.ops.convert_to_numpy(table.embeddings), matrix)
    assert model.get_layer("max_mean_pooling") is not None
    assert load_run(run).predict(["a truly great film"])["predicted_label"].iloc[0] in {
        "positive",
        "negative",
    }
    # Fine-tuning the same vectors is a train setting: the featurize stage key does not change.
    before = manifest["stages"]
    config = tmp_path / "frozen.toml"
    result = invoke(
        "run", "--config", config, "--name", run, "--set", "features.trainable_embeddings=true", "--force"
    )
    assert result.exit_code == 0, result
    after = json.loads((run / "manifest.json").read_text())["stages"]
    assert after["featurize"]["key"] == before["featurize"]["key"]
    assert after["train"]["key"] != before["train"]["key"]
    tuned = keras.saving.load_model(run / "model.keras", safe_mode=True).get_layer("embedding")
    assert tuned.trainable and not np.allclose(keras.ops.convert_to_numpy(tuned.embeddings), matrix)


def test_word2vec_inside_featurize_trains_on_the_training_split(tmp_path: Path, reviews_csv: Path) -> None:
    run = _sentiment_with(
        tmp_path,
        "w2v",
        reviews_csv,
        embeddings="word2vec",
        word2vec={"dim": 6, "min_count": 1, "epochs": 2, "workers": 1},
    )
    info = json.loads((run / "features" / "info.json").read_text())
    stats = info["embeddings"]["word2vec"]
    train_rows = len(pd.read_parquet(run / "prepare" / "train.parquet"))
    assert stats["documents"] == train_rows and info["embedding_dim"] == 6
    assert info["embeddings"]["coverage"] == 1.0  # min_count 1: every vocabulary token has a vector
    assert load_vectors(run / "features" / "word2vec").vector_size == 6
    assert (run / "features" / "embeddings.npy").is_file()


def test_embeddings_need_sequence_features(tmp_path: Path, reviews_csv: Path) -> None:
    config = write_config(tmp_path / "c.toml", reviews_csv, features={"embeddings": "glove-6b-50d"})
    assert_one_line_error(invoke("run", "--config", config, "--name", tmp_path / "r"), "needs features.kind")
    config = write_config(
        tmp_path / "d.toml", reviews_csv, features={"kind": "sequence", "embeddings": "no-such-vectors"}
    )
    assert_one_line_error(
        invoke("run", "--config", config, "--name", tmp_path / "s"), "features.embeddings", "no-such-vectors"
    )


def test_a_replaced_vector_file_redoes_the_features(tmp_path: Path, reviews_csv: Path) -> None:
    vectors = _review_vectors(tmp_path / "vecs.txt", dim=4)
    run = _sentiment_with(tmp_path, "replaced", reviews_csv, embeddings=str(vectors))
    config = tmp_path / "replaced.toml"
    same = invoke("run", "--config", config, "--name", run)
    assert same.exit_code == 0 and "featurize: up to date" in same.stdout
    before = np.load(run / "features" / "embeddings.npy")
    words = load_vectors(vectors).index_to_key
    write_vector_file(vectors, words, np.ones((len(words), 4), np.float32), "glove")
    again = invoke("run", "--config", config, "--name", run)
    assert again.exit_code == 0 and "featurize: up to date" not in again.stdout
    assert not np.array_equal(before, np.load(run / "features" / "embeddings.npy"))
