"""`python -m pipeline ensemble`: a sentiment run averaging finished runs with weights chosen on valid only,
used by predict, evaluate --labelled, load_run and the server like any run, refused once a member changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.api import load_run
from pipeline.errors import PipelineError
from pipeline.evaluation import classification_metrics
from pipeline.rundir import RunDir
from pipeline.sentiment.ensemble import EnsembleClassifier, choose_weights, simplex_grid
from pipeline.sentiment.prepare import read_split
from tests.conftest import assert_one_line_error, invoke, make_reviews

TEXTS = ["A wonderful, moving film.", "Dull and boring, a waste.", "", "the plot was superb and brilliant"]


def test_simplex_grid_covers_the_simplex() -> None:
    grid = simplex_grid(3)
    assert grid.shape == (231, 3) and np.allclose(grid.sum(axis=1), 1) and (grid >= 0).all()
    assert {tuple(row) for row in simplex_grid(2)[[0, -1]]} == {(0.0, 1.0), (1.0, 0.0)}
    assert len(simplex_grid(5)) == 1001  # steps of 1/10 from five members


def test_weights_are_chosen_by_valid_accuracy_then_log_loss() -> None:
    y = np.array([1, 1, 0, 0])
    right = np.array([[0.2, 0.8], [0.3, 0.7], [0.9, 0.1], [0.6, 0.4]])
    noise = np.array([[0.6, 0.4], [0.5, 0.5], [0.5, 0.5], [0.4, 0.6]])
    weights, figures = choose_weights(np.stack([noise, right]), y)
    assert figures["valid_accuracy"] == 1.0 and weights[1] > weights[0]
    # among the weights that are all right, the lowest log-loss: all on the confident member
    assert weights.tolist() == [0.0, 1.0]


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory, tfidf_run: Path, bigru_run: Path, transformer_run: Path) -> Path:
    """The three shared runs (trained on the same reviews) as private copies, and their ensemble."""
    root = tmp_path_factory.mktemp("ensemble")
    members = [shutil.copytree(run, root / run.name) for run in (tfidf_run, bigru_run, transformer_run)]
    result = invoke("ensemble", *[a for m in members for a in ("--run", m)], "--name", root / "mix")
    assert result.exit_code == 0, result
    assert result.stdout.startswith("ensemble: test accuracy ")
    return root / "mix"


def test_the_ensemble_is_a_run_with_weights_chosen_on_valid(ensemble_run: Path) -> None:
    run = RunDir.open_existing(ensemble_run)
    recipe = run.manifest["ensemble"]
    members = recipe["members"]
    assert [m["name"] for m in members] == ["tfidf", "bigru", "transformer"]
    assert sum(m["weight"] for m in members) == pytest.approx(1.0)
    assert all(len(m["model_sha256"]) == 64 for m in members)
    metrics = json.loads((ensemble_run / "metrics.json").read_text())
    # the grid holds each member alone, so the chosen weights are at least as good as any member on valid
    assert metrics["valid"]["accuracy"] >= max(m["valid_accuracy"] for m in members)
    assert metrics["valid"]["accuracy"] == pytest.approx(recipe["valid_accuracy"])
    for name in ("report.md", "confusion.png", "config.toml", "prepare/labels.json"):
        assert (ensemble_run / name).is_file(), name
    assert "| **ensemble** |" in (ensemble_run / "report.md").read_text()
    # the test figures are the weighted members' own predictions, scored as evaluate scores a run
    classifiers = [load_run(m["path"]) for m in members]
    test = read_split(RunDir.open_existing(members[0]["path"]), "test")
    mixed = sum(
        m["weight"] * c.predict_proba(test["text"].tolist())
        for m, c in zip(members, classifiers, strict=True)
    )
    expected = classification_metrics(test["label"].to_numpy(), mixed, 0.5)
    assert metrics["accuracy"] == pytest.approx(expected["accuracy"]) and metrics["n"] == len(test)
    assert metrics["confusion_matrix"] == expected["confusion_matrix"]


def test_predict_load_run_and_evaluate_use_the_ensemble(ensemble_run: Path, tmp_path: Path) -> None:
    classifier = load_run(ensemble_run)
    assert isinstance(classifier, EnsembleClassifier)
    members = RunDir.open_existing(ensemble_run).manifest["ensemble"]["members"]
    frame = classifier.predict(TEXTS)
    assert list(frame["skipped_reason"]) == ["", "", "empty text", ""]
    probs = classifier.predict_proba(TEXTS)
    expected = sum(m["weight"] * load_run(m["path"]).predict_proba(TEXTS) for m in members)
    np.testing.assert_allclose(probs, expected, rtol=1e-6)
    result = invoke("predict", "--run", ensemble_run, TEXTS[0], TEXTS[1])
    assert result.exit_code == 0, result
    assert "positive" in result.stdout and "negative" in result.stdout
    labelled = tmp_path / "mine.csv"
    make_reviews(40, seed=21).to_csv(labelled, index=False)
    result = invoke("evaluate", "--run", ensemble_run, "--labelled", labelled)
    assert result.exit_code == 0 and "40 labelled texts" in result.stdout, result
    before = json.loads((ensemble_run / "metrics.json").read_text())
    result = invoke("evaluate", "--run", ensemble_run)  # evaluated again with the recorded weights
    assert result.exit_code == 0, result
    assert json.loads((ensemble_run / "metrics.json").read_text())["accuracy"] == before["accuracy"]
    with pytest.raises(PipelineError, match="explain is not available for an ensemble"):
        classifier.explain(TEXTS[:1])


def test_the_server_serves_an_ensemble_without_explanations(ensemble_run: Path) -> None:
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from pipeline.serving.app import ServeSettings, create_app  # noqa: PLC0415
    from pipeline.serving.registry import load_all  # noqa: PLC0415

    models, vectors = load_all([ensemble_run], [])
    with TestClient(create_app(models, vectors, ServeSettings())) as client:
        entry = client.get("/v1/models").json()["models"][0]
        assert (entry["kind"], entry["explains"]) == ("ensemble", False)
        assert set(entry["vocabulary_size"]) == {"tfidf", "bigru", "transformer"}
        response = client.post("/v1/models/mix/predict", json={"texts": TEXTS[:2], "explain": True})
        assert response.status_code == 200, response.text
        rows = response.json()["results"]
        assert [row["label"] for row in rows] == ["positive", "negative"]
        assert all(row["explanation"] is None for row in rows)


def test_a_changed_or_missing_member_is_refused(ensemble_run: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(ensemble_run.parent, tmp_path / "copy")
    manifest = json.loads((copy / "mix" / "manifest.json").read_text())
    for member in manifest["ensemble"]["members"]:  # the copy's members are the copied runs
        member["path"] = str(copy / member["name"])
    (copy / "mix" / "manifest.json").write_text(json.dumps(manifest))
    assert isinstance(load_run(copy / "mix"), EnsembleClassifier)
    with open(copy / "bigru" / "model.keras", "ab") as handle:
        handle.write(b"\0")
    result = invoke("predict", "--run", copy / "mix", "a fine film")
    assert_one_line_error(
        result, "member bigru changed since the ensemble was made", "make the ensemble again"
    )
    shutil.rmtree(copy / "tfidf")
    with pytest.raises(PipelineError, match="member tfidf is gone"):
        load_run(copy / "mix")


def test_bad_ensembles_are_refused_with_one_line(
    tfidf_run: Path, bigru_run: Path, multiclass_run: Path, transformer_translator_run: Path, tmp_path: Path
) -> None:
    out = ("--name", tmp_path / "mix")
    assert_one_line_error(invoke("ensemble", "--run", tfidf_run, *out), "two or more --run")
    assert_one_line_error(invoke("ensemble", "--run", tfidf_run, "--run", tfidf_run, *out), "given twice")
    result = invoke("ensemble", "--run", tfidf_run, "--run", multiclass_run, *out)
    assert_one_line_error(result, "has classes", "negative", "neutral")
    result = invoke("ensemble", "--run", tfidf_run, "--run", transformer_translator_run, *out)
    assert_one_line_error(result, "a translation run; members are sentiment runs")
    other = shutil.copytree(bigru_run, tmp_path / "other")  # the same classes, another valid split
    valid = pd.read_parquet(other / "prepare" / "valid.parquet")
    valid.iloc[1:].to_parquet(other / "prepare" / "valid.parquet", index=False)
    result = invoke("ensemble", "--run", tfidf_run, "--run", other, *out)
    assert_one_line_error(result, "different valid splits", "same prepared data")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = invoke("ensemble", "--run", tfidf_run, "--run", bigru_run, "--name", tmp_path / "taken")
    assert_one_line_error(result, "exists and is not an ensemble run")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
