"""`python -m pipeline predict`: TEXT arguments, tables in and out (input columns kept, never overwritten),
stdin/stdout, and the decision threshold."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from tests.conftest import assert_one_line_error, invoke, run_module


def test_text_arguments(tfidf_run: Path) -> None:
    result = invoke("predict", "--run", tfidf_run, "A great and wonderful film", "Boring, awful, dull")
    assert result.exit_code == 0, result
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    label, probability, text = lines[0].split("\t")
    assert (label, text) == ("positive", "A great and wonderful film") and 0.5 <= float(probability) <= 1
    assert lines[1].split("\t")[0] == "negative"


def test_table_keeps_input_columns_and_never_overwrites_one(tfidf_run: Path, tmp_path: Path) -> None:
    source = pd.DataFrame(
        {
            "id": [7, 8, 9],
            "review": ["loved it, superb", "a dreadful waste", "brilliant and moving"],
            "probability": ["mine", "mine", "mine"],
        }
    )
    source.to_csv(tmp_path / "in.csv", index=False)
    result = invoke(
        "predict", "--run", tfidf_run, "--input", tmp_path / "in.csv", "--text-col", "review",
        "--output", tmp_path / "out.csv",
    )  # fmt: skip
    assert result.exit_code == 0, result
    assert "wrote 3 rows" in result.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == [
        "id", "review", "probability", "predicted_label", "probability_1", "skipped_reason",
    ]  # fmt: skip
    pd.testing.assert_frame_equal(out[source.columns], source)
    assert out["predicted_label"].tolist() == ["positive", "negative", "positive"]
    assert out["probability_1"].between(0.5, 1.0).all()


def test_other_output_formats_and_bad_extension(tfidf_run: Path, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("great film\nawful film\n", encoding="utf-8")
    result = invoke(
        "predict", "--run", tfidf_run, "--input", tmp_path / "in.txt", "--output", tmp_path / "o.parquet"
    )
    assert result.exit_code == 0, result
    assert pd.read_parquet(tmp_path / "o.parquet")["predicted_label"].tolist() == ["positive", "negative"]
    result = invoke(
        "predict", "--run", tfidf_run, "--input", tmp_path / "in.txt", "--output", tmp_path / "o.xls"
    )
    assert_one_line_error(result, "--output", "unknown extension '.xls'")


def test_stdin_to_stdout_in_a_subprocess(tfidf_run: Path) -> None:
    done = run_module(
        "predict", "--run", tfidf_run, "--input", "-", "--output", "-",
        stdin=b"superb, loved it\nterrible and boring\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    out = pd.read_csv(io.StringIO(done.stdout.decode()))
    assert list(out.columns) == ["text", "predicted_label", "probability", "skipped_reason"]
    assert out["text"].tolist() == ["superb, loved it", "terrible and boring"]
    assert out["predicted_label"].tolist() == ["positive", "negative"]


def test_stdin_in_process(tfidf_run: Path) -> None:
    result = invoke("predict", "--run", tfidf_run, "--input", "-", "--output", "-", stdin=b"great film\n")
    assert result.exit_code == 0, result
    assert pd.read_csv(io.StringIO(result.stdout))["predicted_label"].tolist() == ["positive"]


def test_stdin_with_text_col(tfidf_run: Path) -> None:
    result = invoke(
        "predict", "--run", tfidf_run, "--input", "-", "--text-col", "review", "--output", "-",
        stdin=b"great film\n",
    )  # fmt: skip
    assert result.exit_code == 0
    assert "positive" in result.stdout


def test_threshold_changes_binary_decisions(tfidf_run: Path) -> None:
    texts = ["awful, dreadful and boring", "terrible waste", "a great film"]
    default = invoke("predict", "--run", tfidf_run, *texts)
    assert [line.split("\t")[0] for line in default.stdout.splitlines()] == [
        "negative",
        "negative",
        "positive",
    ]
    low = invoke("predict", "--run", tfidf_run, "--threshold", "0.01", *texts)
    assert low.exit_code == 0, low
    assert [line.split("\t")[0] for line in low.stdout.splitlines()] == ["positive"] * 3
    high = invoke("predict", "--run", tfidf_run, "--threshold", "0.999", *texts)
    assert [line.split("\t")[0] for line in high.stdout.splitlines()] == ["negative"] * 3
    assert_one_line_error(invoke("predict", "--run", tfidf_run, "--threshold", "1.5", "x"), "--threshold")


def test_threshold_refused_for_multiclass(multiclass_run: Path) -> None:
    result = invoke("predict", "--run", multiclass_run, "--threshold", "0.3", "a great film")
    assert_one_line_error(result, "--threshold applies to binary models only", "3 classes")
    plain = invoke("predict", "--run", multiclass_run, "plain, okay and average")
    assert plain.exit_code == 0 and plain.stdout.startswith("neutral\t")


def test_predict_usage_errors(tfidf_run: Path, tmp_path: Path) -> None:
    assert_one_line_error(invoke("predict", "--run", tfidf_run), "give either TEXTS or --input")
    (tmp_path / "in.csv").write_text("text,other\ngood,1\n,2\n")
    result = invoke("predict", "--run", tfidf_run, "--input", tmp_path / "in.csv", "--strict")
    assert_one_line_error(result, "in.csv: row 2 has no text in column 'text'")
    result = invoke("predict", "--run", tfidf_run, "--input", tmp_path / "in.csv", "--text-col", "review")
    assert_one_line_error(result, "in.csv", "no column 'review'")
    assert_one_line_error(invoke("predict", "--run", tmp_path, "x"), "not a run directory")
    result = invoke("predict", "--run", tfidf_run, "--strict", "fine", "great " * 40_000)
    assert_one_line_error(result, "text 2 has 240,000 characters, over data.max_chars = 200,000")
