"""model.init_from: a sentiment classifier that starts from a word-level language model's vocabulary and
encoder, the language model fine-tuned on the training split only ([train.lm_finetune]), and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.lm_classifier import build_lm_classifier, encoder_layer_depths
from models.saving import load_model
from pipeline import load_run
from pipeline.rundir import RunDir
from pipeline.sentiment.lm_finetune import corpus_checksum
from pipeline.sentiment.prepare import read_split
from tests.conftest import assert_one_line_error, invoke, make_reviews, write_config, write_reviews

LM_TOML = """task = "language_model"
seed = 3
[data]
dataset = "{dataset}"
valid_fraction = 0.1
test_fraction = 0.1
[features]
tokenizer = "{tokenizer}"
sequence_length = 16
min_count = 1
[model]
kind = "lstm"
embed_dim = 12
units = 16
layers = 2
dropout = 0.0
tie_embeddings = true
[train]
epochs = 2
batch_size = 16
learning_rate = 0.01
sampled_softmax = 8
patience = 0
verbose = 0
"""


def _language_model(root: Path, tokenizer: str = "word") -> Path:
    corpus = root / f"unlabelled-{tokenizer}.csv"
    pd.DataFrame({"text": make_reviews(300, seed=11)["text"]}).to_csv(corpus, index=False)
    config = root / f"lm-{tokenizer}.toml"
    config.write_text(LM_TOML.format(dataset=corpus, tokenizer=tokenizer), encoding="utf-8")
    result = invoke("run", "--config", config, "--name", root / f"lm-{tokenizer}")
    assert result.exit_code == 0, result
    return root / f"lm-{tokenizer}"


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _language_model(tmp_path_factory.mktemp("lm-init"))


@pytest.fixture(scope="module")
def reviews(lm_run: Path) -> Path:
    return write_reviews(lm_run.parent / "reviews.csv", n=120, seed=4)


def _classifier(lm_run: Path, reviews: Path, name: str, **tables) -> Path:
    model = {"init_from": str(lm_run), "dropout": 0.1, **tables.pop("model", {})}
    features = {"kind": "sequence", **tables.pop("features", {})}
    train = {"epochs": 2, **tables.pop("train", {})}
    config = write_config(
        lm_run.parent / f"{name}.toml", reviews, model=model, features=features, train=train
    )
    # SMALL's encoder keys (embed_dim 8, units 8, kind dense) would differ from the LM's: leave them out.
    text = config.read_text(encoding="utf-8")
    for line in ('kind = "dense"\n', "embed_dim = 8\n", "units = 8\n", "num_heads = 2\n", "ff_dim = 8\n"):
        text = text.replace(line, "", 1)
    config.write_text(text, encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def finetuned_run(lm_run: Path, reviews: Path) -> Path:
    config = _classifier(
        lm_run,
        reviews,
        "finetuned",
        model={"head_units": 8},
        train={
            "lm_finetune": {"epochs": 1, "learning_rate": 0.005},
            "discriminative_lr": 2.6,
            "unfreeze": "gradual",
        },
    )
    result = invoke("run", "--config", config, "--name", lm_run.parent / "finetuned")
    assert result.exit_code == 0, result
    return lm_run.parent / "finetuned"


def test_the_classifier_copies_the_encoder_and_adds_concat_pooling(lm_run: Path) -> None:
    language_model = load_model(lm_run / "model.keras")
    classifier = build_lm_classifier(language_model, {"dropout": 0.1, "head_units": 4}, 2)
    token_table = language_model.get_layer("embedding").embedding  # inside the tied output layer
    np.testing.assert_array_equal(
        classifier.get_layer("embedding").get_weights()[0], token_table.get_weights()[0]
    )
    for name in ("lstm_0", "lstm_1"):
        for new, old in zip(
            classifier.get_layer(name).get_weights(),
            language_model.get_layer(name).get_weights(),
            strict=True,
        ):
            np.testing.assert_array_equal(new, old)
    assert classifier.get_layer("concat_pooling").output.shape[-1] == 3 * 16  # last, max, mean
    assert "projection" not in {layer.name for layer in classifier.layers}
    assert encoder_layer_depths(classifier) == {"lstm_1": 1, "lstm_0": 2, "embedding": 3}
    # The last-state part of the pooling is the LSTM state after the last real token, whatever the padding.
    ids = np.array([[5, 6, 7, 0, 0, 0]])
    padded = classifier.predict(ids, verbose=0)
    assert classifier.predict(ids[:, :3], verbose=0) == pytest.approx(padded, abs=1e-6)


def test_the_run_takes_the_lm_vocabulary_and_encoder_keys(lm_run: Path, finetuned_run: Path) -> None:
    run = RunDir.open_existing(finetuned_run)
    lm = RunDir.open_existing(lm_run)
    assert (
        json.loads((finetuned_run / "features" / "vocab.json").read_text())["tokens"]
        == json.loads((lm_run / "features" / "vocab.json").read_text())["tokens"]
    )
    for key in ("kind", "embed_dim", "units", "layers"):
        assert run.config["model"][key] == lm.config["model"][key]
    info = json.loads((finetuned_run / "features" / "info.json").read_text())
    assert info["language_model"]["init_from"] == str(lm_run)
    model = load_model(finetuned_run / "model.keras")
    assert model.name == "lm_lstm_classifier"
    assert type(model.optimizer).__name__ == "LayerwiseAdam"
    # gradual unfreezing froze the encoder during fit (models.gradual_unfreezing) and thawed it before saving
    assert all(layer.trainable for layer in model.layers)
    assert len(model.optimizer._trainable_variables) == len(model.trainable_variables)
    metrics = json.loads((finetuned_run / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.5
    labels = load_run(finetuned_run).predict(["a truly wonderful film", "awful, boring and dull"])
    assert len(labels) == 2


def test_lm_finetuning_reads_the_training_split_only(finetuned_run: Path, lm_run: Path) -> None:
    run = RunDir.open_existing(finetuned_run)
    record = json.loads((finetuned_run / "features" / "info.json").read_text())["lm_finetune"]
    train_texts = read_split(run, "train")["text"].tolist()
    assert record["corpus"] == "train" and record["texts"] == len(train_texts)
    assert record["texts_sha256"] == corpus_checksum(train_texts)
    every_text = (
        train_texts + read_split(run, "valid")["text"].tolist() + read_split(run, "test")["text"].tolist()
    )
    assert record["texts_sha256"] != corpus_checksum(every_text)
    assert record["epochs_run"] == 1 and len(record["train_loss"]) == 1
    tuned = load_model(finetuned_run / "features" / "language_model.keras")
    original = load_model(lm_run / "model.keras")
    assert not np.array_equal(
        tuned.get_layer("lstm_0").get_weights()[0], original.get_layer("lstm_0").get_weights()[0]
    )


def test_config_show_inherits_the_encoder_and_a_differing_key_is_refused(lm_run: Path, reviews: Path) -> None:
    config = _classifier(lm_run, reviews, "show")
    shown = invoke("config", "show", "--config", config)
    assert shown.exit_code == 0, shown
    assert 'kind = "lstm"' in shown.stdout and "units = 16" in shown.stdout and "layers = 2" in shown.stdout
    refused = invoke(
        "config", "show", "--config", config, "--set", "model.units=32", "--set", "model.layers=1"
    )
    assert_one_line_error(refused, "model.units = 32", "model.layers = 1", "the language model has 16")
    head = invoke(
        "config", "show", "--config", config, "--set", "model.head_units=32", "--set", "model.dropout=0.5"
    )
    assert head.exit_code == 0, head


@pytest.mark.parametrize(
    "overrides, fragments",
    [
        (["features.embeddings=glove-6b-50d"], ["features.embeddings", "leave it 'random'"]),
        (["features.kind=tfidf"], ["model.init_from needs features.kind = 'sequence'"]),
        (["model.bidirectional=true"], ["model.bidirectional = True"]),
    ],
)
def test_settings_that_cannot_start_from_the_lm_are_refused(
    lm_run: Path, reviews: Path, overrides, fragments
) -> None:
    config = _classifier(lm_run, reviews, "refused")
    args = [item for override in overrides for item in ("--set", override)]
    result = invoke("run", "--config", config, "--name", lm_run.parent / f"refused-{len(args[1])}", *args)
    assert_one_line_error(result, *fragments)


def test_other_runs_cannot_start_a_classifier(
    lm_run: Path, reviews: Path, tfidf_run: Path, tmp_path: Path
) -> None:
    char = tmp_path / "lm-char"  # the refusal reads the run's config only: no need to train one
    char.mkdir()
    (char / "config.toml").write_text(
        (lm_run / "config.toml").read_text().replace('tokenizer = "word"', 'tokenizer = "char"'),
        encoding="utf-8",
    )
    config = _classifier(lm_run, reviews, "char")
    result = invoke("run", "--config", config, "--name", tmp_path / "c", "--set", f"model.init_from={char}")
    assert_one_line_error(result, "character-level", "word-level")
    missing = invoke(
        "run", "--config", config, "--name", tmp_path / "m", "--set", f"model.init_from={tmp_path / 'none'}"
    )
    assert_one_line_error(missing, "model.init_from", "not a run directory")
    other = invoke(
        "run", "--config", config, "--name", tmp_path / "o", "--set", f"model.init_from={tfidf_run}"
    )
    assert_one_line_error(other, "not a language model")
    lm_task = invoke(
        "config", "show", "--config", lm_run / "config.toml", "--set", f"model.init_from={lm_run}"
    )
    assert_one_line_error(lm_task, "model.init_from applies to sentiment classifiers")
