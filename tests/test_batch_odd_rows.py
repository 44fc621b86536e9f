"""Batch jobs survive odd rows: `pipeline.text_limits`, and `predict` (CLI and API) scoring every row it can:
over-long texts cut to data.max_chars, empty and missing ones skipped with a reason, rows lined up, counts on
stderr, and `--strict` keeping the old refusals. The `translate` cases are in test_pipeline_translation.py."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import load_run
from pipeline.errors import PipelineError
from pipeline.text_limits import (
    EMPTY,
    MISSING,
    OK,
    UNKNOWN_WORDS,
    classify,
    cut_column,
    cut_reason,
    cut_to,
    screen,
    summary,
)
from tests.conftest import REPO_ROOT, assert_one_line_error, invoke, make_reviews, run_module

LONG = "great " * 40_000  # 240,000 characters: over the default data.max_chars = 200,000


# --- pipeline.text_limits -------------------------------------------------------------------------------------


def test_classify_names_missing_and_empty_texts() -> None:
    assert [classify(v) for v in ["fine", " x ", "", "  \t\n", None, float("nan"), pd.NA, 3]] == [
        OK, OK, EMPTY, EMPTY, MISSING, MISSING, MISSING, MISSING,
    ]  # fmt: skip
    assert OK == "" and (EMPTY, MISSING, UNKNOWN_WORDS) == (
        "empty text",
        "missing text",
        "only unknown words",
    )
    assert cut_reason(200_000) == "cut to 200,000 characters"


def test_cut_to_and_cut_column() -> None:
    assert cut_to(["abcdef", "abc", ""], 4) == (["abcd", "abc", ""], 1)
    assert cut_to([], 4) == ([], 0)
    column = pd.Series(["abcdef", None, "ab", "xxxxx"], dtype=object)
    cut, n_cut = cut_column(column, 4)
    assert n_cut == 2 and cut.iloc[0] == "abcd" and cut.iloc[3] == "xxxx" and cut.iloc[2] == "ab"
    assert pd.isna(cut.iloc[1]) and column.iloc[0] == "abcdef"  # the input is left as it was
    same, none = cut_column(column, 10)
    assert none == 0 and same.equals(column)
    with pytest.raises(ValueError, match="max_chars"):
        cut_to(["x"], 0)


def test_screen_keeps_positions_and_reasons() -> None:
    screened = screen(["good", None, "  ", "abcdefgh", "fine"], max_chars=5)
    assert screened.texts == ["good", "abcde", "fine"]
    assert screened.rows == [0, 3, 4] and screened.cut_rows == [3]
    assert screened.reasons == ["", MISSING, EMPTY, "", ""]
    assert (screened.n_rows, screened.n_scored, screened.n_skipped, screened.n_cut) == (5, 3, 2, 1)
    assert screened.skipped() == [(1, MISSING), (2, EMPTY)] and screened.first_skipped() == (1, MISSING)
    assert screen(["a"], 5).first_skipped() is None


def test_summary_is_one_line_of_counts() -> None:
    line = summary(7, 10, 2, 200_000, ["", EMPTY, MISSING, EMPTY, ""], verb="scored")
    assert (
        line == "scored 7 of 10 rows; 2 cut to 200,000 characters; skipped 3 (2 empty text, 1 missing text)"
    )
    assert summary(3, 3, 0, 10, ["", "", ""], verb="translated", noun="lines") == (
        "translated 3 of 3 lines; skipped 0"
    )


# --- predict: the command -------------------------------------------------------------------------------------


def _odd_table(path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "id": [11, 12, 13, 14, 15, 16],
            "review": ["loved it, superb", None, "a dreadful waste", "   ", LONG, "brilliant and moving"],
        }
    )
    frame.to_csv(path, index=False)
    return frame


def test_csv_with_empty_missing_and_long_rows_is_scored_row_for_row(tfidf_run: Path, tmp_path: Path) -> None:
    source = _odd_table(tmp_path / "in.csv")
    result = invoke(
        "predict", "--run", tfidf_run, "--input", tmp_path / "in.csv", "--text-col", "review",
        "--output", tmp_path / "out.csv",
    )  # fmt: skip
    assert result.exit_code == 0, result
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False, na_values=[""])
    assert list(out.columns) == ["id", "review", "predicted_label", "probability", "skipped_reason"]
    assert out["id"].tolist() == source["id"].tolist()  # same rows, same order
    assert out["review"].iloc[4] == LONG  # the input column is written as it was, not cut
    labels = out["predicted_label"].tolist()
    assert labels[0] == "positive" and labels[2] == "negative" and labels[4] == "positive"
    assert labels[5] == "positive" and pd.isna(labels[1]) and pd.isna(labels[3])
    assert out["probability"].isna().tolist() == [False, True, False, True, False, False]
    assert out["skipped_reason"].fillna("").tolist() == ["", "missing text", "", "empty text", "", ""]
    assert result.error_lines == [
        "wrote 6 rows to " + str(tmp_path / "out.csv"),
        "scored 4 of 6 rows; 1 cut to 200,000 characters; skipped 2 (1 empty text, 1 missing text)",
    ]


def test_strict_keeps_the_old_refusals(tfidf_run: Path, tmp_path: Path) -> None:
    _odd_table(tmp_path / "in.csv")
    args = ["predict", "--run", tfidf_run, "--input", tmp_path / "in.csv", "--text-col", "review", "--strict"]
    assert_one_line_error(invoke(*args), "in.csv: row 2 has no text in column 'review'")
    (tmp_path / "long.csv").write_text(f"review\nfine film\n{LONG}\n", encoding="utf-8")
    args[4] = tmp_path / "long.csv"
    assert_one_line_error(invoke(*args), "text 2 has 240,000 characters, over data.max_chars = 200,000")
    assert_one_line_error(
        invoke("predict", "--run", tfidf_run, "--strict", "fine", "  "), "argument: row 2 has no text"
    )


@pytest.mark.parametrize("suffix", [".tsv", ".parquet", ".jsonl"])
def test_other_formats_line_up(tfidf_run: Path, tmp_path: Path, suffix: str) -> None:
    _odd_table(tmp_path / "in.csv")
    output = tmp_path / f"out{suffix}"
    result = invoke(
        "predict", "--run", tfidf_run, "--input", tmp_path / "in.csv", "--text-col", "review",
        "--output", output,
    )  # fmt: skip
    assert result.exit_code == 0, result
    if suffix == ".tsv":
        out = pd.read_csv(output, sep="\t")
    elif suffix == ".parquet":
        out = pd.read_parquet(output)
    else:
        out = pd.read_json(output, lines=True)
        records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
        assert records[1]["probability"] is None and records[1]["skipped_reason"] == "missing text"
    assert out["id"].tolist() == [11, 12, 13, 14, 15, 16]
    assert out["probability"].isna().tolist() == [False, True, False, True, False, False]
    assert out["skipped_reason"].fillna("").tolist() == ["", "missing text", "", "empty text", "", ""]


def test_csv_on_stdout_holds_only_the_rows(tfidf_run: Path, tmp_path: Path) -> None:
    """Over 1,000 rows a progress bar is drawn when writing to a file; Keras draws it on stdout, so not here."""
    frame = make_reviews(1_200, seed=4)[["text"]]
    frame.loc[600, "text"] = None
    frame.to_csv(tmp_path / "in.csv", index=False)
    result = invoke("predict", "--run", tfidf_run, "--input", tmp_path / "in.csv", "--output", "-")
    assert result.exit_code == 0, result
    assert result.stdout.startswith("text,predicted_label,probability,skipped_reason\n")
    out = pd.read_csv(io.StringIO(result.stdout))
    assert len(out) == 1_200 and out["skipped_reason"].notna().sum() == 1
    assert out["skipped_reason"].iloc[600] == "missing text"


def test_blank_line_on_stdin_is_an_empty_text(tfidf_run: Path) -> None:
    result = invoke(
        "predict", "--run", tfidf_run, "--input", "-", "--output", "-", stdin=b"great film\n\nawful film\n"
    )
    assert result.exit_code == 0, result
    out = pd.read_csv(io.StringIO(result.stdout))
    assert len(out) == 3 and out["predicted_label"].fillna("").tolist() == ["positive", "", "negative"]
    assert out["skipped_reason"].fillna("").tolist() == ["", "empty text", ""]
    assert "scored 2 of 3 rows; skipped 1 (1 empty text)" in result.stderr


def test_text_arguments_print_only_their_answer(tfidf_run: Path) -> None:
    one = invoke("predict", "--run", tfidf_run, "fine film")
    assert one.exit_code == 0 and one.stderr == "", one
    label, probability, text = one.stdout.rstrip("\n").split("\t")
    assert label in {"positive", "negative"} and 0.5 <= float(probability) <= 1 and text == "fine film"
    odd = invoke("predict", "--run", tfidf_run, "a great film", "  ", LONG)
    assert odd.exit_code == 0, odd
    lines = odd.stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith("positive\t")
    assert lines[1] == "\t\t  " and lines[2].startswith("positive\t") and lines[2].endswith("...")
    assert odd.error_lines == ["scored 2 of 3 rows; 1 cut to 200,000 characters; skipped 1 (1 empty text)"]


def test_predict_in_a_subprocess_prints_only_its_answer(tfidf_run: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "predict", "--run", str(tfidf_run), "fine film"],
        cwd=REPO_ROOT,
        capture_output=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr.decode() == "" and done.stdout.decode().count("\n") == 1
    assert done.stdout.decode().endswith("\tfine film\n")


# --- predict: the Python API ----------------------------------------------------------------------------------


def test_api_scores_what_it_can_and_strict_refuses(tfidf_run: Path) -> None:
    classifier = load_run(tfidf_run)
    texts = ["a great film", None, "", LONG, "awful and boring"]
    frame = classifier.predict(texts)
    assert list(frame.columns) == ["predicted_label", "probability", "skipped_reason"]
    assert frame["predicted_label"].tolist() == ["positive", "", "", "positive", "negative"]
    assert frame["probability"].isna().tolist() == [False, True, True, False, False]
    assert frame["skipped_reason"].tolist() == ["", "missing text", "empty text", "", ""]
    # the cut text is scored as its first data.max_chars characters
    cut = classifier.predict([LONG[:200_000]])
    assert frame["probability"].iloc[3] == cut["probability"].iloc[0]
    probs = classifier.predict_proba(texts)
    assert probs.shape == (5, 2) and np.isnan(probs[[1, 2]]).all() and not np.isnan(probs[[0, 3, 4]]).any()
    np.testing.assert_allclose(probs[[0, 3, 4]].sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(PipelineError, match="text 2 is empty or missing"):
        classifier.predict(texts, strict=True)
    with pytest.raises(PipelineError, match=r"text 1 has 240,000 characters, over data.max_chars = 200,000"):
        classifier.predict([LONG, None], strict=True)  # the first bad row is named
    with pytest.raises(PipelineError, match="text 3 is empty or missing"):
        classifier.predict_proba(["fine", "good", " "], strict=True)
    nothing = classifier.predict(["", None])
    assert nothing["predicted_label"].tolist() == ["", ""] and nothing["probability"].isna().all()
    assert classifier.predict("superb")["predicted_label"].tolist() == ["positive"]  # one string, one text


def test_api_on_a_sequence_run(bigru_run: Path) -> None:
    frame = load_run(bigru_run).predict(["loved it, superb", "   ", LONG, "dull and awful"], batch_size=2)
    assert frame["predicted_label"].tolist() == ["positive", "", "positive", "negative"]
    assert frame["skipped_reason"].tolist() == ["", "empty text", "", ""]


# --- the big one ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_hundred_thousand_rows_with_empty_and_one_megabyte_rows(tfidf_run: Path, tmp_path: Path) -> None:
    """Done when: a 100,000-row CSV with 10 empty rows and 3 rows of 1 MB is scored end to end into 100,000
    output rows (a real `python -m pipeline` process)."""
    n = 100_000
    base = make_reviews(1_000, seed=3)["text"].tolist()
    texts: list[str | None] = [base[i % len(base)] for i in range(n)]
    empty_rows = list(range(5, n, n // 10))[:10]
    long_rows = [17, 50_003, n - 1]
    for row in empty_rows:
        texts[row] = None  # an empty CSV field
    megabyte = "superb film, loved it " * 47_663  # 1,048,586 characters
    for row in long_rows:
        texts[row] = megabyte
    pd.DataFrame({"id": range(n), "text": texts}).to_csv(tmp_path / "big.csv", index=False)
    started = time.perf_counter()
    done = run_module(
        "predict", "--run", tfidf_run, "--input", tmp_path / "big.csv", "--output", tmp_path / "out.csv",
        timeout=300,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr.decode()
    out = pd.read_csv(tmp_path / "out.csv")
    assert len(out) == n and out["id"].tolist() == list(range(n))
    assert sorted(out.index[out["probability"].isna()].tolist()) == empty_rows
    assert (out.loc[long_rows, "predicted_label"] == "positive").all()
    assert out["skipped_reason"].notna().sum() == 10
    stderr = done.stderr.decode()
    assert (
        "scored 99,990 of 100,000 rows; 3 cut to 200,000 characters; skipped 10 (10 missing text)" in stderr
    )
    assert math.isfinite(seconds) and seconds < 120, seconds
