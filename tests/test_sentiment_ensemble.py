"""`python -m pipeline ensemble`: a sentiment run averaging finished runs with weights chosen on valid only,
or stacking them with a logistic regression fitted on valid, used by predict, evaluate --labelled, load_run
and the server like any run, refused once a member changed."""

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
from pipeline.sentiment.ensemble import EnsembleClassifier, choose_recipe, choose_weights, simplex_grid
from pipeline.sentiment.prepare import read_split
from pipeline.sentiment.stacking import fit_stacker, stacked_proba, stacking_features
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
    runs = [a for m in members for a in ("--run", m)]
    result = invoke("ensemble", *runs, "--method", "grid", "--name", root / "mix")
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


def _miscalibrated(rows: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two members on `rows` two-class rows: the first knows the label but always leans positive (p 0.55 or
    0.95), the second is noise. Averaging cannot undo the lean; a logistic regression's intercept can."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    leaning = np.where(y == 1, 0.95, 0.55) + rng.uniform(-0.02, 0.02, rows)
    noise = rng.uniform(0.3, 0.7, rows)
    as_classes = [np.stack([1 - p, p], axis=1) for p in (leaning, noise)]
    return np.stack(as_classes), y


def test_stacking_fits_the_log_odds_on_valid_and_auto_takes_it_when_it_cross_validates_better() -> None:
    probabilities, y = _miscalibrated()
    stacker = fit_stacker(probabilities, y, c=1.0)
    assert np.asarray(stacker["coef"]).shape == (1, 2)
    assert abs(stacker["coef"][0][0]) > 5 * abs(stacker["coef"][0][1])  # the informative member counts
    mixed = stacked_proba(stacker, probabilities)
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0)
    assert ((mixed[:, 1] >= 0.5) == y).mean() == 1.0
    recipe = choose_recipe(probabilities, y, 0.5, "auto")
    cross = recipe["cross_validated_accuracy"]
    assert cross["stacking"] > 0.95 > cross["grid"]
    assert recipe["method"] == "logistic stacking on valid" and recipe["valid_accuracy"] == 1.0
    assert recipe["stacker"]["C"] in (0.01, 0.1, 1.0, 10.0, 100.0)
    assert choose_recipe(probabilities, y, 0.5, "grid")["method"] == "simplex grid on valid accuracy"
    # a member already right and calibrated: both cross-validate to 1.0 and the tie goes to the grid
    right = np.stack([np.stack([1.0 - y * 0.8 - 0.1, y * 0.8 + 0.1], axis=1)] * 2)
    assert choose_recipe(right, y, 0.5, "auto")["method"] == "simplex grid on valid accuracy"
    # a class with a single valid review: nothing to cross-validate, so auto takes the grid, stacking is refused
    one = np.array([0, 0, 0, 1])
    lone = np.stack([np.stack([1.0 - one * 0.8 - 0.1, one * 0.8 + 0.1], axis=1)] * 2)
    assert "cross_validated_accuracy" not in choose_recipe(lone, one, 0.5, "auto")
    with pytest.raises(PipelineError, match="1 review"):
        choose_recipe(lone, one, 0.5, "stacking")


def test_stacking_many_classes_uses_every_class_log_probability() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    sure = np.full((300, 3), 0.1)
    sure[np.arange(300), y] = 0.8
    probabilities = np.stack([sure, rng.dirichlet(np.ones(3), 300)])
    assert stacking_features(probabilities).shape == (300, 6)
    stacker = fit_stacker(probabilities, y, c=1.0)
    mixed = stacked_proba(stacker, probabilities)
    assert np.asarray(stacker["coef"]).shape == (3, 6) and mixed.shape == (300, 3)
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0)
    assert (mixed.argmax(axis=1) == y).mean() == 1.0


def test_a_stacked_ensemble_is_a_run_that_predicts_through_its_coefficients(ensemble_run: Path) -> None:
    members = [m["path"] for m in RunDir.open_existing(ensemble_run).manifest["ensemble"]["members"]]
    stacked = ensemble_run.parent / "stacked"
    result = invoke(
        "ensemble", *[a for m in members for a in ("--run", m)], "--method", "stacking", "--name", stacked
    )
    assert result.exit_code == 0, result
    assert "logistic stacking on valid: tfidf coef " in result.stdout
    recipe = RunDir.open_existing(stacked).manifest["ensemble"]
    assert set(recipe["cross_validated_accuracy"]) == {"grid", "stacking"}
    assert all(len(m["coef"]) == 1 and "weight" not in m for m in recipe["members"])
    assert "Logistic regression over the members' log-odds" in (stacked / "report.md").read_text()
    member_probabilities = np.stack([load_run(path).predict_proba(TEXTS) for path in members])
    keep = [0, 1, 3]  # the empty text is skipped, with even probabilities
    expected = stacked_proba(recipe["stacker"], member_probabilities[:, keep])
    np.testing.assert_allclose(load_run(stacked).predict_proba(TEXTS)[keep], expected, rtol=1e-6)
    before = json.loads((stacked / "metrics.json").read_text())
    assert invoke("evaluate", "--run", stacked).exit_code == 0
    assert json.loads((stacked / "metrics.json").read_text())["accuracy"] == before["accuracy"]


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
    result = invoke("ensemble", "--run", tfidf_run, "--run", bigru_run, "--method", "vote", *out)
    assert_one_line_error(result, "--method", "vote")
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
