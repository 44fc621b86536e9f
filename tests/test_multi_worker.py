"""train.strategy = "multi-worker" for real: two worker processes on 127.0.0.1 (TF_CONFIG as TensorFlow
documents it) train each task through the usual CLI. Only the chief writes the run; the other worker trains in
a temporary copy it removes; both end with the same weights; the result matches one process with the same
global batch within the tolerances stated below."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.rundir import RunDir
from tests.conftest import invoke
from tests.multi_worker import (
    half_written,
    language_model_config,
    run_workers,
    sentiment_config,
    translation_config,
    worker_weights,
)

pytestmark = pytest.mark.slow


def _two_workers(config: Path, tmp_path: Path) -> tuple[Path, dict]:
    """`run` on two loopback workers; checks every multi-worker promise and returns (run, train record)."""
    run, scratch = tmp_path / "run", tmp_path / "worker-tmp"
    done = run_workers(["run", "--config", config, "--name", run], scratch)
    for index, process in enumerate(done):
        assert process.returncode == 0, f"worker {index}:\n{process.stdout[-2000:]}\n{process.stderr[-3000:]}"
    chief, other = done[0].stdout, done[1].stdout
    weights = worker_weights(chief + other)
    assert set(weights) == {0, 1} and weights[0] == weights[1], (chief, other)
    assert "evaluate:" in chief and "evaluate:" not in other  # only the chief evaluates
    assert "training in a copy of" in other
    assert list(scratch.iterdir()) == []  # the other worker's copy (checkpoints, model) is gone
    assert not half_written(run)
    for name in ("model.keras", "history.csv", "metrics.json", "curves.png", "checkpoints/last.keras"):
        assert (run / name).exists(), name
    record = RunDir.open_existing(run).manifest["stages"]["train"]
    assert record["strategy"] == "multi-worker" and record["workers"] == 2 and record["replicas"] == 2
    assert record["weights_sha256"] == weights[0]
    return run, record


def _single(config: Path, tmp_path: Path, batch_size: int) -> Path:
    """The same config in one process with the two workers' global batch."""
    run = tmp_path / "single"
    sets = ['train.strategy="default"', f"train.batch_size={batch_size}"]
    result = invoke("run", "--config", config, "--name", run, *[arg for s in sets for arg in ("--set", s)])
    assert result.exit_code == 0, result
    return run


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def _last_val_loss(run: Path) -> float:
    import pandas as pd  # noqa: PLC0415

    return float(pd.read_csv(run / "history.csv")["val_loss"].iloc[-1])


def test_sentiment_gru_on_two_workers(tmp_path: Path) -> None:
    config = sentiment_config(tmp_path)
    run, record = _two_workers(config, tmp_path)
    assert record["global_batch_size"] == 32
    # 162 training reviews in batches of 32: the last of 2 rows splits evenly, nothing is left out
    assert record["rows_left_out_per_epoch"] == {"train": 0, "valid": 0}
    assert record["steps_run"] == 3 * 6
    single = _single(config, tmp_path, 32)
    # Equal halves of each global batch: the all-reduced mean gradient is the one-process gradient up to
    # float32 summation order, so the curves agree closely (tolerance: 2% of the validation loss).
    assert _last_val_loss(run) == pytest.approx(_last_val_loss(single), rel=0.02)
    assert abs(_metrics(run)["accuracy"] - _metrics(single)["accuracy"]) <= 0.05


def test_word_language_model_on_two_workers(tmp_path: Path) -> None:
    config = language_model_config(tmp_path)
    run, record = _two_workers(config, tmp_path)
    assert record["global_batch_size"] == 16
    single = _single(config, tmp_path, 16)
    # Each replica averages over its own non-padding targets, so a half with fewer of them weighs a little
    # more than in one process: losses agree within 3%.
    assert _metrics(run)["perplexity"] == pytest.approx(_metrics(single)["perplexity"], rel=0.03)


def test_translator_on_two_workers(tmp_path: Path) -> None:
    config = translation_config(tmp_path)
    run, record = _two_workers(config, tmp_path)
    assert record["global_batch_size"] == 32
    single = _single(config, tmp_path, 32)
    # Padding differs between the halves of a batch (as for the LM): validation losses within 3%.
    assert _last_val_loss(run) == pytest.approx(_last_val_loss(single), rel=0.03)
