"""The language-model task end to end on small synthetic corpora: character and word level, perplexity
beside the n-gram baselines, generation, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from pipeline import load_run
from pipeline.language_model.evaluate import interpolation_weight, token_log_probs
from pipeline.language_model.train import compile_language_model, windows_for
from pipeline.rundir import RunDir
from tests.conftest import assert_one_line_error, invoke, write_config

LINES = ["the cat sat on the mat.", "a dog ran in the park!", "my hat is on the cat?", "we sat in the sun."]


def _write_lm_config(path: Path, dataset: Path | str, tokenizer: str, kind: str, **extra: str) -> Path:
    lines = [
        'task = "language_model"',
        "seed = 7",
        "[data]",
        f"dataset = {json.dumps(str(dataset))}",
        "valid_fraction = 0.1",
        f"test_fraction = {extra.pop('test_fraction', '0.1')}",
        "[features]",
        f'tokenizer = "{tokenizer}"',
        "sequence_length = 24",
        "min_count = 1",
        "[model]",
        f'kind = "{kind}"',
        "embed_dim = 16",
        "units = 24",
        "num_heads = 2",
        "ff_dim = 32",
        "dropout = 0.0",
        f"tie_embeddings = {extra.pop('tie', 'false')}",
        "[train]",
        f"epochs = {extra.pop('epochs', '3')}",
        "batch_size = 16",
        "learning_rate = 0.01",
        "patience = 0",
        "verbose = 0",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def char_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lm-char")
    rng = np.random.default_rng(0)
    text = "\n".join(LINES[i] for i in rng.integers(0, len(LINES), 800)) + "\n"
    corpus = root / "corpus.txt"
    corpus.write_text(text, encoding="utf-8")
    config = _write_lm_config(root / "char.toml", corpus, "char", "gru", epochs="5")
    result = invoke("run", "--config", config, "--name", root / "char")
    assert result.exit_code == 0, result
    return root / "char"


@pytest.fixture(scope="module")
def word_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lm-word")
    corpus = root / "documents.csv"
    rng = np.random.default_rng(3)
    documents = [" ".join(LINES[i] for i in rng.integers(0, len(LINES), 4)) for _ in range(400)]
    pd.DataFrame({"text": documents}).to_csv(corpus, index=False)
    config = _write_lm_config(root / "word.toml", corpus, "word", "transformer", tie="true", epochs="5")
    result = invoke("run", "--config", config, "--name", root / "word")
    assert result.exit_code == 0, result
    return root / "word"


@pytest.mark.parametrize("fixture", ["char_run", "word_run"])
def test_metrics_score_every_token_and_beat_the_unigram(request: pytest.FixtureRequest, fixture: str) -> None:
    run_dir: Path = request.getfixturevalue(fixture)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["task"] == "language_model" and list(manifest["stages"]) == [
        "prepare",
        "featurize",
        "train",
        "evaluate",
    ]
    assert metrics["split"] == "test" and set(metrics["valid"]) >= {"perplexity", "ngram_perplexity"}
    stream = np.load(run_dir / "features" / "test.npy")
    assert metrics["tokens"] == len(stream)
    assert metrics["perplexity"] == pytest.approx(np.exp(metrics["cross_entropy"]))
    assert metrics["perplexity"] < metrics["unigram_perplexity"]
    assert metrics["ngram_order"] == (5 if fixture == "char_run" else 3)
    if fixture == "char_run":
        assert metrics["bits_per_char"] == pytest.approx(metrics["cross_entropy"] / np.log(2))
    # The interpolation weight is picked on valid, where it can only help; test reuses it.
    valid = metrics["valid"]
    assert valid["interpolated"]["perplexity"] <= min(valid["perplexity"], valid["ngram_perplexity"]) + 1e-9
    assert metrics["interpolated"]["model_weight"] == valid["interpolated"]["model_weight"]
    for name in ("model.keras", "history.csv", "curves.png", "features/vocab.json", "features/train.npy"):
        assert (run_dir / name).exists(), name


def test_stride_scoring_agrees_with_keras_loss(char_run: Path) -> None:
    """With non-overlapping windows, the scored cross-entropy equals the masked Keras loss on them."""
    run = RunDir.open_existing(char_run)
    model = keras.saving.load_model(char_run / "model.keras", safe_mode=True)
    stream = np.load(char_run / "features" / "valid.npy")
    scored = -token_log_probs(model, stream, 24, 24, 64).mean()
    inputs, targets, _ = windows_for(run, "valid")
    compile_language_model(model, run.config["train"], 1)
    keras_loss = model.evaluate(inputs, targets, batch_size=len(inputs), verbose=0)
    assert scored == pytest.approx(keras_loss, rel=1e-4)
    # Overlapping windows give each token more context: never worse here.
    assert -token_log_probs(model, stream, 24, 8, 64).mean() <= scored + 1e-3


def test_generation_is_seeded_and_cache_free_paths_agree(word_run: Path) -> None:
    model = load_run(word_run)
    first = model.generate("the cat sat", 12, temperature=0.9, top_k=10, seed=5)
    assert first.startswith("the cat sat") and len(first) > len("the cat sat")
    assert first == model.generate("the cat sat", 12, temperature=0.9, top_k=10, seed=5)
    assert first == model.generate("the cat sat", 12, temperature=0.9, top_k=10, seed=5, use_cache=False)
    greedy = invoke("generate", "--run", word_run, "--prompt", "a dog", "--length", 5, "--greedy")
    assert greedy.exit_code == 0 and greedy.stdout.startswith("a dog")
    piped = invoke(
        "generate", "--run", word_run, "--prompt", "-", "--length", 3, "--seed", 1, stdin=b"my hat\n"
    )
    assert piped.exit_code == 0 and piped.stdout.startswith("my hat")


def test_char_generation_continues_the_prompt(char_run: Path) -> None:
    text = load_run(char_run).generate("the c", 30, greedy=True)
    assert text.startswith("the c") and len(text) == 35


def test_a_corpus_without_test_split_reports_valid(tmp_path: Path) -> None:
    corpus = tmp_path / "play.txt"
    corpus.write_text("\n".join(LINES * 40), encoding="utf-8")
    config = _write_lm_config(tmp_path / "c.toml", corpus, "char", "lstm", test_fraction="0.0")
    result = invoke("run", "--config", config, "--name", tmp_path / "r", "--set", "train.epochs=1")
    assert result.exit_code == 0, result
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["split"] == "valid" and not (tmp_path / "r" / "prepare" / "test.parquet").exists()
    # nanoGPT-style contiguous split: valid is the end of the file.
    assert Path(tmp_path / "r" / "prepare" / "valid.parquet").is_file()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--length", "0"], ["--length must be at least 1"]),
        (["--temperature", "0"], ["--temperature must be above 0"]),
        (["--prompt", "zzqx qqzv"], ["only words unknown"]),
        (["--top-p", "1.5"], ["top_p"]),
    ],
)
def test_bad_generation_options(word_run: Path, args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(invoke("generate", "--run", word_run, *args), *fragments)


def test_unknown_prompt_words_are_warned_about(word_run: Path) -> None:
    result = invoke("generate", "--run", word_run, "--prompt", "the zzqx", "--length", 2, "--seed", 0)
    assert result.exit_code == 0 and "unknown, read as <unk>: zzqx" in result.stderr


def test_bad_corpora_are_one_line_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n\n", encoding="utf-8")
    config = _write_lm_config(tmp_path / "e.toml", empty, "char", "gru")
    assert_one_line_error(invoke("run", "--config", config, "--name", tmp_path / "e"), "empty")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01\x02 not text")
    config = _write_lm_config(tmp_path / "b.toml", binary, "char", "gru")
    assert_one_line_error(invoke("run", "--config", config, "--name", tmp_path / "b"), "binary")
    config = _write_lm_config(tmp_path / "i.toml", "imdb", "word", "gru")
    assert_one_line_error(
        invoke("run", "--config", config, "--name", tmp_path / "i"), "not a language-model corpus"
    )


def test_a_sentiment_run_is_not_a_language_model(tfidf_run: Path) -> None:
    assert_one_line_error(
        invoke("generate", "--run", tfidf_run, "--prompt", "hello"),
        "task 'sentiment'",
        "not 'language_model'",
    )


def test_sampled_softmax_training_saves_the_plain_model(tmp_path: Path) -> None:
    corpus = tmp_path / "documents.csv"
    rng = np.random.default_rng(5)
    documents = [" ".join(LINES[i] for i in rng.integers(0, len(LINES), 4)) for _ in range(200)]
    pd.DataFrame({"text": documents}).to_csv(corpus, index=False)
    config = _write_lm_config(tmp_path / "s.toml", corpus, "word", "lstm", tie="true", epochs="10")
    run_dir = tmp_path / "sampled"
    result = invoke("run", "--config", config, "--name", run_dir, "--set", "train.sampled_softmax=5")
    assert result.exit_code == 0, result
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    assert model.name == "lstm_language_model"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["perplexity"] < 0.5 * metrics["unigram_perplexity"]
    # val_loss is the exact cross-entropy, not the sampled estimate: the best epoch's is the full-softmax
    # loss of the saved model on the validation windows.
    history = pd.read_csv(run_dir / "history.csv")
    run = RunDir.open_existing(run_dir)
    inputs, targets, _ = windows_for(run, "valid")
    assert len(inputs) <= run.config["eval"]["batch_size"]  # one validation batch, as below
    compile_language_model(model, run.config["train"], 1)
    exact = model.evaluate(inputs, targets, batch_size=len(inputs), verbose=0)
    assert history["val_loss"].min() == pytest.approx(exact, rel=1e-4)
    assert RunDir.open_existing(run_dir).config["train"]["sampled_softmax"] == 5
    too_many = invoke(
        "train", "--config", config, "--name", run_dir, "--set", "train.sampled_softmax=500", "--force"
    )
    assert_one_line_error(too_many, "train.sampled_softmax", "below the vocabulary size")


def test_full_softmax_runs_keep_their_train_key_without_the_sampled_softmax_key(word_run: Path) -> None:
    """A full-softmax run is current under its own key, and under the key the old rule gave it before
    train.sampled_softmax existed (that key is what runs made then recorded)."""
    from pipeline.language_model.train import KEY  # noqa: PLC0415

    run = RunDir.open_existing(word_run)
    assert run.config["train"]["sampled_softmax"] == 0
    key = run.stage_key(KEY)
    assert run.is_current("train", key)
    legacy = KEY.legacy_key(run.config, run.manifest)
    run.manifest["stages"]["train"]["key"] = legacy  # as a run made before the key existed recorded it
    assert run.is_current("train", key, legacy)
    assert run.manifest["stages"]["train"]["key"] == key


def test_sampled_softmax_is_refused_for_sentiment(tmp_path: Path, reviews_csv: Path) -> None:
    config = write_config(tmp_path / "s.toml", reviews_csv, train={"sampled_softmax": 10})
    result = invoke("run", "--config", config, "--name", tmp_path / "s")
    assert_one_line_error(result, "train.sampled_softmax applies to language models only")


def test_interpolation_weight_finds_the_mixture_that_helps_both() -> None:
    # The model is right where the n-gram is wrong and the reverse: the even mixture gives 0.5 everywhere.
    model = np.log(np.array([0.9, 0.1] * 50))
    ngram = np.log(np.array([0.1, 0.9] * 50))
    assert interpolation_weight(model, ngram) == pytest.approx(0.5)
    assert interpolation_weight(model, model - 1.0) == 1.0  # a uniformly worse n-gram gets no weight
    assert interpolation_weight(ngram - 1.0, ngram) == 0.0


@pytest.mark.parametrize("unit", ["characters", "documents"])
def test_data_limit_shortens_only_the_training_split(tmp_path: Path, unit: str) -> None:
    if unit == "characters":
        corpus = tmp_path / "play.txt"
        corpus.write_text("\n".join(LINES * 40), encoding="utf-8")
        config = _write_lm_config(tmp_path / "c.toml", corpus, "char", "gru", epochs="1")
    else:
        corpus = tmp_path / "documents.csv"
        pd.DataFrame({"text": LINES * 30}).to_csv(corpus, index=False)
        config = _write_lm_config(tmp_path / "c.toml", corpus, "word", "gru", epochs="1")
    sizes = {}
    for limit in (0, 50):
        result = invoke(
            "prepare", "--config", config, "--name", tmp_path / f"r{limit}", "--set", f"data.limit={limit}"
        )
        assert result.exit_code == 0, result
        sizes[limit] = RunDir.open_existing(tmp_path / f"r{limit}").manifest["data"]["split_sizes"]
    assert sizes[50]["train"] == 50 < sizes[0]["train"]
    assert sizes[50]["valid"] == sizes[0]["valid"] and sizes[50]["test"] == sizes[0]["test"]
