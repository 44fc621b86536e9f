"""Bad input and run directories that do not fit: each a non-zero exit and one line naming the file, row or
option; and a refused run loses nothing of the run directory it was pointed at."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.rundir import RunDir
from tests.conftest import assert_one_line_error, invoke, write_config, write_reviews


def _prepare(tmp_path: Path, dataset: Path | str, *sets: str, name: str = "run", **tables: dict):
    config = write_config(tmp_path / "c.toml", dataset, **tables)
    sets = [arg for value in sets for arg in ("--set", value)]
    return invoke("prepare", "--config", config, "--name", tmp_path / name, *sets)


def test_missing_data_file(tmp_path: Path) -> None:
    assert_one_line_error(
        _prepare(tmp_path, tmp_path / "nope.csv"), f"{tmp_path / 'nope.csv'}: file not found"
    )


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    assert_one_line_error(_prepare(tmp_path, tmp_path / "empty.csv"), "empty.csv: empty file")
    (tmp_path / "header.csv").write_text("text,label\n")
    result = _prepare(tmp_path, tmp_path / "header.csv", name="run2")
    assert_one_line_error(result, "header.csv: empty file")


def test_binary_file(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_bytes(b"text,label\n\x00\x01\x02\x03,positive\n")
    assert_one_line_error(_prepare(tmp_path, tmp_path / "data.csv"), "data.csv: binary file")


def test_non_utf8_file(tmp_path: Path) -> None:
    (tmp_path / "latin1.csv").write_bytes("text,label\ncaf\u00e9 great,positive\n".encode("latin-1"))
    assert_one_line_error(
        _prepare(tmp_path, tmp_path / "latin1.csv"), "latin1.csv: not valid UTF-8", "line 2"
    )


def test_missing_text_and_label_columns(tmp_path: Path) -> None:
    data = write_reviews(tmp_path / "reviews.csv", n=20)
    result = _prepare(tmp_path, data, 'data.text_col="review"')
    assert_one_line_error(result, "reviews.csv: no column 'review'", "text, label")
    result = _prepare(tmp_path, data, "data.label_col=sentiment", name="run2")
    assert_one_line_error(result, "reviews.csv: no column 'sentiment'")


def test_unknown_label_in_separate_test_file(tmp_path: Path) -> None:
    data = write_reviews(tmp_path / "train.csv", n=40)
    pd.DataFrame({"text": ["great", "awful", "fine"], "label": ["positive", "negative", "meh"]}).to_csv(
        tmp_path / "test.csv", index=False
    )
    result = _prepare(tmp_path, data, data={"test_path": str(tmp_path / "test.csv")})
    assert_one_line_error(result, f"{tmp_path / 'test.csv'}: row 3 has unknown label 'meh'")


def test_unknown_label_row_counts_skipped_rows(tmp_path: Path) -> None:
    data = write_reviews(tmp_path / "train.csv", n=40)
    (tmp_path / "test.csv").write_text("text,label\n,positive\ngreat,positive\ngood,meh\n")
    result = _prepare(tmp_path, data, data={"test_path": str(tmp_path / "test.csv")})
    assert result.exit_code == 1, result
    error = [line for line in result.error_lines if line.startswith("error: ")]
    assert len(error) == 1 and "test.csv: row 3 has unknown label 'meh'" in error[0], result.stderr


def test_nan_and_empty_text_rows_skipped_and_counted(tmp_path: Path) -> None:
    frame = pd.concat(
        [
            pd.read_csv(write_reviews(tmp_path / "r.csv", n=40)),
            pd.DataFrame({"text": [None, None, "   ", "\t"], "label": ["positive"] * 4}),
        ]
    )
    frame.to_csv(tmp_path / "data.csv", index=False)
    result = _prepare(tmp_path, tmp_path / "data.csv")
    assert result.exit_code == 0, result
    assert "skipped 2 rows with missing text and 2 with empty text" in result.stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["data"]["skipped_rows"] == {"all": {"nan_text": 2, "empty_text": 2}}
    assert sum(manifest["data"]["split_sizes"].values()) == 40


def test_one_megabyte_review_is_cut_to_max_chars_and_counted(tmp_path: Path) -> None:
    frame = pd.read_csv(write_reviews(tmp_path / "r.csv", n=40))
    frame.loc[6, "text"] = "great " * 175_000  # 1,050,000 characters
    frame.to_csv(tmp_path / "data.csv", index=False)
    result = _prepare(tmp_path, tmp_path / "data.csv")
    assert result.exit_code == 0, result
    assert "cut 1 text(s) over data.max_chars = 200,000 characters" in result.stderr
    run = RunDir.open_existing(tmp_path / "run")
    assert run.manifest["data"]["cut_texts"] == {"all": 1}
    texts = pd.concat(pd.read_parquet(p) for p in (tmp_path / "run" / "prepare").glob("*.parquet"))["text"]
    assert texts.str.len().max() == 200_000 and len(texts) == 40


def test_unknown_model_kind(tmp_path: Path) -> None:
    data = write_reviews(tmp_path / "reviews.csv", n=40)
    config = write_config(tmp_path / "c.toml", data, model={"kind": "nonsense"})
    result = invoke("run", "--config", config, "--name", tmp_path / "run")
    assert_one_line_error(result, "unknown model.kind 'nonsense'", "dense")
    assert not (tmp_path / "run" / "model.keras").exists()


def test_unknown_features_kind(tmp_path: Path) -> None:
    data = write_reviews(tmp_path / "reviews.csv", n=40)
    config = write_config(tmp_path / "c.toml", data, features={"kind": "word2vec"})
    result = invoke("run", "--config", config, "--name", tmp_path / "run")
    assert_one_line_error(result, "unknown features.kind 'word2vec'", "sequence, tfidf, bow, onehot, nbsvm")


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in ("model.keras", "metrics.json", "config.toml")}


def test_run_of_another_task_refused(tfidf_run: Path, run_copy) -> None:
    run_dir = run_copy(tfidf_run)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["task"] = "translation"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    before = _snapshot(run_dir)
    for force in ([], ["--force"]):
        result = invoke("run", "--config", run_dir / "config.toml", "--name", run_dir, *force)
        assert_one_line_error(result, "is a run of task 'translation', not 'sentiment'", "--name")
    assert _snapshot(run_dir) == before
    assert json.loads((run_dir / "manifest.json").read_text())["task"] == "translation"


def test_changed_config_refused_without_force_and_accepted_with_it(tfidf_run: Path, run_copy) -> None:
    run_dir = run_copy(tfidf_run)
    before = _snapshot(run_dir)
    args = ["run", "--config", run_dir / "config.toml", "--name", run_dir, "--set", "train.epochs=2"]
    result = invoke(*args, "--set", "eval.threshold=0.4")
    assert_one_line_error(result, "different config (changed: eval.threshold, train.epochs)", "--force")
    assert _snapshot(run_dir) == before  # nothing lost
    result = invoke(*args, "--force")
    assert result.exit_code == 0, result
    assert "train: best epoch" in result.stdout
    history = pd.read_csv(run_dir / "history.csv")
    assert history["epoch"].tolist() == [1, 2]
    assert "epochs = 2" in (run_dir / "config.toml").read_text()


def test_non_run_directory_refused(tmp_path: Path) -> None:
    data = write_reviews(tmp_path / "reviews.csv", n=20)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    config = write_config(tmp_path / "c.toml", data)
    result = invoke("prepare", "--config", config, "--name", tmp_path / "busy")
    assert_one_line_error(result, "is not empty and has no manifest.json")
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["notes.txt"]


def test_fixed_config_accepted_after_a_failed_first_stage(tmp_path: Path) -> None:
    assert_one_line_error(_prepare(tmp_path, tmp_path / "nope.csv"), "file not found")
    result = _prepare(tmp_path, write_reviews(tmp_path / "reviews.csv", n=20))
    assert result.exit_code == 0, result


def test_stage_before_its_input_refused(tmp_path: Path) -> None:
    data = write_reviews(tmp_path / "reviews.csv", n=20)
    config = write_config(tmp_path / "c.toml", data)
    result = invoke("train", "--config", config, "--name", tmp_path / "run")
    assert_one_line_error(result, "stage 'featurize' has not run yet")


def test_failed_forced_run_keeps_the_recorded_config(tfidf_run: Path, run_copy) -> None:
    run_dir = run_copy(tfidf_run)
    before = _snapshot(run_dir)
    result = invoke(
        "run", "--config", run_dir / "config.toml", "--name", run_dir, "--force",
        "--set", "features.kind=word2vec",
    )  # fmt: skip
    assert_one_line_error(result, "unknown features.kind 'word2vec'")
    assert _snapshot(run_dir) == before


@pytest.mark.parametrize(
    ("setting", "tables"),
    [
        ("features.truncate=middle", {"features": {"kind": "sequence"}}),  # pad_ids ValueError
        ("features.ngram_max=0", {}),  # SparseVectorizer() built outside the try in featurize.py
        ("train.batch_size=0", {}),  # ZeroDivisionError in pipeline/batches.py
        ("train.epochs=0", {}),  # empty history: plot_training_curves ValueError
    ],
)
def test_out_of_range_setting_is_a_one_line_error(tmp_path: Path, setting: str, tables: dict) -> None:
    data = write_reviews(tmp_path / "reviews.csv", n=40)
    config = write_config(tmp_path / "c.toml", data, **tables)
    result = invoke("run", "--config", config, "--name", tmp_path / "run", "--set", setting)
    assert_one_line_error(result, setting.split("=")[0])
