"""bench/sentiment.py: which stored rows an ensemble may use, the day each row is measured, and the header
naming rows not re-run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench import sentiment as bench_sentiment
from bench.common import bench_row, today


def _row(name: str, run: Path, measured: str | None) -> dict:
    row = {"name": name, "run": str(run)}
    if measured:
        row["measured"] = measured
    return row


def test_an_ensemble_uses_only_rows_whose_runs_are_on_disk(tmp_path: Path):
    kept = tmp_path / "nbsvm"
    kept.mkdir()
    (kept / "manifest.json").write_text("{}", encoding="utf-8")
    results = {
        "nbsvm": _row("nbsvm", kept, today()),
        "transformer": _row("transformer", tmp_path / "cleaned-away", "2026-12-02"),
    }
    assert bench_sentiment.has_run(results, "nbsvm")
    assert not bench_sentiment.has_run(results, "transformer")  # its run directory is gone
    assert not bench_sentiment.has_run(results, "lm-lstm")  # no row at all


def test_the_header_names_the_rows_this_invocation_did_not_measure(tmp_path: Path):
    rows = [
        _row("nbsvm", tmp_path, today()),
        _row("bow", tmp_path, "2026-12-02"),
        _row("gru", tmp_path, None),
    ]
    (line,) = bench_sentiment.carried_over(rows)
    assert "bow (2026-12-02)" in line and "gru (an earlier day)" in line
    assert "nbsvm" not in line
    assert bench_sentiment.carried_over(rows[:1]) == []


def test_a_row_from_a_subprocess_carries_the_day_it_was_measured(tmp_path: Path):
    line = "BENCH " + json.dumps({"name": "x", "accuracy": 0.5})
    command = [sys.executable, "-c", f"print('noise'); print({line!r})"]
    row = bench_row(command, tmp_path / "row.log")
    assert row == {"name": "x", "accuracy": 0.5, "measured": today()}
