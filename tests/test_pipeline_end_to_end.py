"""`python -m pipeline run` on small synthetic reviews: every artefact of the run directory, re-runs skipped,
the Python API and safe-mode loading, for TF-IDF + dense, bidirectional GRU, Transformer and three classes."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from pipeline import load_run
from pipeline.config import load_config
from pipeline.errors import PipelineError
from tests.conftest import invoke, write_config, write_reviews

RUNS = ["tfidf_run", "bigru_run", "transformer_run", "multiclass_run"]
STAGES = ["prepare", "featurize", "train", "evaluate"]
METRIC_KEYS = ["accuracy", "precision", "recall", "f1", "roc_auc"]


@pytest.mark.parametrize("fixture", RUNS)
def test_run_directory_holds_every_artefact(request: pytest.FixtureRequest, fixture: str) -> None:
    run_dir: Path = request.getfixturevalue(fixture)
    config = tomllib.loads((run_dir / "config.toml").read_text())
    assert config == load_config(run_dir / "config.toml")
    assert config["train"]["verbose"] == 0 and config["features"]["sequence_length"] == 20

    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["task"] == "sentiment" and manifest["seed"] == 1337
    assert {"python", "tensorflow", "keras", "scikit-learn", "numpy"} <= manifest["versions"].keys()
    assert manifest["versions"]["keras"] == keras.__version__
    assert list(manifest["stages"]) == STAGES
    for stage in STAGES:
        record = manifest["stages"][stage]
        assert record["status"] == "done"
        assert len(record["key"]) == 16 and isinstance(record["wall_seconds"], float)
        for name, checksum in record["outputs"].items():
            assert (run_dir / name).exists() and checksum
    dataset = Path(config["data"]["dataset"])
    assert manifest["data"]["checksums"] == {str(dataset): hashlib.sha256(dataset.read_bytes()).hexdigest()}
    sizes = manifest["data"]["split_sizes"]
    assert sum(sizes.values()) == len(pd.read_csv(dataset)) and min(sizes.values()) > 0

    assert (run_dir / "model.keras").stat().st_size > 0
    history = pd.read_csv(run_dir / "history.csv")
    assert history["epoch"].tolist() == list(range(1, config["train"]["epochs"] + 1))
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.columns)
    for png in ("curves.png", "confusion.png"):
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any((run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    assert not list(run_dir.rglob(".tmp-*"))  # nothing half-written left behind

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["split"] == "test"
    assert metrics["classes"] == manifest["data"]["classes"]
    for key in METRIC_KEYS:
        assert 0.0 <= metrics[key] <= 1.0 and 0.0 <= metrics["valid"][key] <= 1.0
    assert metrics["n"] == sizes["test"] and metrics["valid"]["n"] == sizes["valid"]
    chance = 1.0 / len(metrics["classes"])
    assert metrics["accuracy"] >= chance + 0.3, metrics  # the synthetic reviews are easy
    assert metrics["valid"]["accuracy"] >= chance + 0.3, metrics
    report = (run_dir / "report.md").read_text()
    assert f"# {run_dir.name}: sentiment classification" in report and "| test |" in report


def test_multiclass_run_has_three_classes(multiclass_run: Path) -> None:
    metrics = json.loads((multiclass_run / "metrics.json").read_text())
    assert metrics["classes"] == ["negative", "neutral", "positive"]
    assert len(metrics["confusion_matrix"]) == 3
    model = keras.saving.load_model(multiclass_run / "model.keras", safe_mode=True)
    assert model.output_shape == (None, 3)


def test_linear_run_reports_strongest_ngrams(tfidf_run: Path) -> None:
    metrics = json.loads((tfidf_run / "metrics.json").read_text())
    positive = [gram for gram, _ in metrics["top_ngrams"]["positive"][:8]]
    negative = [gram for gram, _ in metrics["top_ngrams"]["negative"][:8]]
    assert "great" in positive or "loved" in positive, positive
    assert "awful" in negative or "boring" in negative, negative
    assert "Strongest n-grams" in (tfidf_run / "report.md").read_text()


def test_rerun_skips_up_to_date_stages(tfidf_run: Path, run_copy) -> None:
    run_dir = run_copy(tfidf_run)
    model_bytes = (run_dir / "model.keras").read_bytes()
    result = invoke("run", "--config", run_dir / "config.toml", "--name", run_dir)
    assert result.exit_code == 0, result
    for stage in STAGES:
        assert f"{stage}: up to date in {run_dir}" in result.stdout
    assert (run_dir / "model.keras").read_bytes() == model_bytes
    # --name alone reuses the run's own config.toml
    again = invoke("run", "--name", run_dir)
    assert again.exit_code == 0 and "train: up to date" in again.stdout, again
    # evaluate --run on an up-to-date run is skipped too; with --force it scores again
    assert "evaluate: up to date" in invoke("evaluate", "--run", run_dir).stdout
    forced = invoke("evaluate", "--run", run_dir, "--force")
    assert forced.exit_code == 0 and "evaluate: test accuracy" in forced.stdout


@pytest.mark.parametrize("fixture", RUNS)
def test_load_run_predicts_labels_and_probabilities(request: pytest.FixtureRequest, fixture: str) -> None:
    run_dir: Path = request.getfixturevalue(fixture)
    classifier = load_run(run_dir)
    frame = classifier.predict(["A great, wonderful and brilliant film", "Awful, boring, dreadful plot"])
    assert list(frame.columns) == ["predicted_label", "probability", "skipped_reason"]
    assert frame["predicted_label"].tolist() == ["positive", "negative"]
    assert frame["probability"].between(1.0 / len(classifier.classes), 1.0).all()
    probabilities = classifier.predict_proba(["loved it", "hated it", "plain and okay"])
    assert probabilities.shape == (3, len(classifier.classes))
    assert abs(probabilities.sum(axis=1) - 1.0).max() < 1e-5
    assert classifier.predict("superb").shape == (1, 3)  # one string is one text


@pytest.mark.parametrize("fixture", RUNS)
def test_model_keras_loads_in_safe_mode(request: pytest.FixtureRequest, fixture: str) -> None:
    run_dir: Path = request.getfixturevalue(fixture)
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    assert (
        model.count_params()
        == json.loads((run_dir / "manifest.json").read_text())["stages"]["train"]["parameters"]
    )


def test_load_run_refuses_unfinished_or_foreign_runs(tmp_path: Path, tfidf_run: Path) -> None:
    with pytest.raises(PipelineError, match="not a run directory"):
        load_run(tmp_path)
    with pytest.raises(PipelineError, match="is a run of task 'sentiment', not 'translation'"):
        load_run(tfidf_run, task="translation")


def test_splits_are_seeded_and_vocabulary_capped(tmp_path: Path) -> None:
    data = write_reviews(tmp_path / "reviews.csv", n=60)
    config = write_config(tmp_path / "c.toml", data, features={"kind": "sequence", "max_tokens": 12})
    frames = {}
    for name, seed in (("a", 1337), ("b", 1337), ("c", 7)):
        for stage in ("prepare", "featurize"):
            result = invoke(stage, "--config", config, "--name", tmp_path / name, "--set", f"seed={seed}")
            assert result.exit_code == 0, result
        frames[name] = pd.read_parquet(tmp_path / name / "prepare" / "valid.parquet")
    pd.testing.assert_frame_equal(frames["a"], frames["b"])
    assert frames["a"]["text"].tolist() != frames["c"]["text"].tolist()
    vocab = json.loads((tmp_path / "a" / "features" / "vocab.json").read_text())
    assert len(vocab["tokens"]) == 12 and vocab["tokens"][:4] == ["<pad>", "<unk>", "<start>", "<end>"]
    x = np.load(tmp_path / "a" / "features" / "train_x.npy")
    assert x.shape[1] == 20 and x.max() < 12 and (x == 1).any()  # rare words became <unk>
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["stages"]["featurize"]["vocabulary_size"] == 12
