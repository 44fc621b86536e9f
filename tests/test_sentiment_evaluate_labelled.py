"""`evaluate --run RUN --labelled FILE`: a trained classifier scored on a labelled table of one's own, with
the run's label mapping, through the same classifier as `predict`; the run is never touched."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation import classification_metrics
from pipeline.rundir import RunDir
from pipeline.sentiment.inference import SentimentClassifier
from tests.conftest import assert_one_line_error, invoke, make_reviews


def _fingerprint(run: Path) -> dict[str, str]:
    return {
        str(path.relative_to(run)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(run.rglob("*"))
        if path.is_file()
    }


def _own_table(tmp_path: Path, suffix: str = ".csv") -> tuple[Path, pd.DataFrame]:
    """Reviews the run never saw, with other column names, the labels spelt pos/NEG and the first six
    labels swapped (so that the figures are not all perfect)."""
    frame = make_reviews(60, seed=11).rename(columns={"text": "review", "label": "stars"})
    frame["stars"] = frame["stars"].map({"positive": "pos", "negative": "NEG"})
    frame.loc[:5, "stars"] = frame.loc[:5, "stars"].map({"pos": "NEG", "NEG": "pos"})
    path = tmp_path / f"mine{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    return path, frame


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl"])
def test_scores_a_labelled_table_like_the_test_split(tfidf_run: Path, tmp_path: Path, suffix: str) -> None:
    path, frame = _own_table(tmp_path, suffix)
    before = _fingerprint(tfidf_run)
    output = tmp_path / "figures.json"
    result = invoke(
        "evaluate", "--run", tfidf_run, "--labelled", path, "--text-col", "review", "--label-col", "stars",
        "--output", output,
    )  # fmt: skip
    assert result.exit_code == 0, result
    assert result.stdout.startswith(f"{path}: 60 labelled texts: accuracy ")
    figures = json.loads(output.read_text())
    # the same figures as the shared inference path gives, with the run's threshold and label mapping
    classifier = SentimentClassifier(RunDir.open_existing(tfidf_run))
    y = (frame["stars"] == "pos").astype(int).to_numpy()
    expected = classification_metrics(y, classifier.predict_proba(frame["review"].tolist()), 0.5)
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "n"):
        assert figures[key] == pytest.approx(expected[key]), key
    assert figures["confusion_matrix"] == expected["confusion_matrix"]
    # the toy reviews are easy: right but for the six swapped labels (rows: true class)
    assert figures["accuracy"] == pytest.approx(54 / 60)
    assert figures["confusion_matrix"] == [[27, 3], [3, 27]]
    assert figures["classes"] == ["negative", "positive"] and figures["rows_per_class"] == {
        "negative": 30,
        "positive": 30,
    }
    assert (figures["text_col"], figures["label_col"], figures["file"]) == ("review", "stars", str(path))
    assert np.sum(figures["confusion_matrix"]) == 60
    assert _fingerprint(tfidf_run) == before  # the run is left untouched


def test_the_runs_columns_are_the_default_and_multiclass_works(multiclass_run: Path, tmp_path: Path) -> None:
    path = tmp_path / "three.csv"
    make_reviews(45, classes=("negative", "neutral", "positive"), seed=4).to_csv(path, index=False)
    result = invoke("evaluate", "--run", multiclass_run, "--labelled", path)
    assert result.exit_code == 0, result
    assert "45 labelled texts" in result.stdout and "roc_auc" in result.stdout


def test_bad_labelled_input_is_one_line_naming_it(tfidf_run: Path, tmp_path: Path) -> None:
    path, frame = _own_table(tmp_path)
    columns = ("--text-col", "review", "--label-col", "stars")
    unknown = frame.copy()
    unknown.loc[6, "stars"] = "meh"
    unknown.to_csv(tmp_path / "unknown.csv", index=False)
    result = invoke("evaluate", "--run", tfidf_run, "--labelled", tmp_path / "unknown.csv", *columns)
    assert_one_line_error(result, "unknown.csv", "row 7", "unknown label 'meh'", "column 'stars'")
    unlabelled = frame.copy()
    unlabelled.loc[2, "stars"] = None
    unlabelled.to_csv(tmp_path / "unlabelled.csv", index=False)
    result = invoke("evaluate", "--run", tfidf_run, "--labelled", tmp_path / "unlabelled.csv", *columns)
    assert_one_line_error(result, "unlabelled.csv", "row 3 has no label in column 'stars'")
    empty_text = frame.copy()
    empty_text.loc[4, "review"] = ""
    empty_text.to_csv(tmp_path / "notext.csv", index=False)
    result = invoke("evaluate", "--run", tfidf_run, "--labelled", tmp_path / "notext.csv", *columns)
    assert_one_line_error(result, "notext.csv", "row 5 has no text in column 'review'")
    result = invoke("evaluate", "--run", tfidf_run, "--labelled", path)  # the run's columns: text, label
    assert_one_line_error(result, "mine.csv", "no column 'text'", "review")
    (tmp_path / "empty.csv").write_text("review,stars\n")
    result = invoke("evaluate", "--run", tfidf_run, "--labelled", tmp_path / "empty.csv", *columns)
    assert_one_line_error(result, "empty.csv", "empty")
    (tmp_path / "lines.txt").write_text("great film\n")
    result = invoke("evaluate", "--run", tfidf_run, "--labelled", tmp_path / "lines.txt")
    assert_one_line_error(result, "lines.txt", "no labels")
    result = invoke("evaluate", "--run", tfidf_run, "--labelled", tmp_path / "absent.csv")
    assert_one_line_error(result, "--labelled: no such file", "absent.csv")


def test_option_combinations_are_refused_with_one_line(
    tfidf_run: Path, transformer_translator_run: Path, tmp_path: Path
) -> None:
    path, _ = _own_table(tmp_path)
    run = ("evaluate", "--run", tfidf_run)
    assert_one_line_error(
        invoke(*run, "--text-col", "review"), "--text-col does not apply to --run", "--labelled"
    )
    assert_one_line_error(invoke(*run, "--label-col", "stars"), "--label-col does not apply to --run")
    assert_one_line_error(invoke(*run, "--data", path), "--data does not apply to --run")
    assert_one_line_error(invoke(*run, "--labelled", path, "--data", path), "--data does not apply to --run")
    assert_one_line_error(
        invoke(*run, "--output", tmp_path / "x.json"), "--output goes with --pairs or --labelled"
    )
    assert_one_line_error(invoke(*run, "--labelled", path, "--beam", "2"), "--beam goes with --pairs")
    assert_one_line_error(invoke(*run, "--labelled", path, "--pairs", path), "exclude each other")
    assert_one_line_error(invoke("evaluate", "--labelled", path), "--labelled scores a trained run", "--run")
    result = invoke("evaluate", "--run", transformer_translator_run, "--labelled", path)
    assert_one_line_error(result, "--labelled scores sentiment runs", "translation run")
