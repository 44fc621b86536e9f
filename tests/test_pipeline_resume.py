"""An interrupted `train` resumes after its last finished epoch; `--force` trains again."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline import training
from tests.conftest import SEQUENCE, invoke, write_config, write_reviews


@pytest.fixture
def featurized(tmp_path: Path) -> tuple[Path, Path]:
    """A prepared and featurized sequence run set to train 4 epochs without early stopping."""
    data = write_reviews(tmp_path / "reviews.csv", n=80)
    config = write_config(tmp_path / "c.toml", data, **SEQUENCE, train={"epochs": 4, "patience": 0})
    run_dir = tmp_path / "run"
    for stage in ("prepare", "featurize"):
        result = invoke(stage, "--config", config, "--name", run_dir)
        assert result.exit_code == 0, result
    return config, run_dir


def test_interrupted_train_resumes_where_it_stopped(
    featurized: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, run_dir = featurized
    original = training.ResumableCheckpoint.on_epoch_end

    def interrupt_after_second_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(training.ResumableCheckpoint, "on_epoch_end", interrupt_after_second_epoch)
    result = invoke("train", "--config", config, "--name", run_dir)
    assert result.exit_code == 130, result  # Ctrl-C: click reports "aborted"
    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 2 and [row["epoch"] for row in state["history"]] == [1, 2]
    assert not (run_dir / "model.keras").exists()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "train" not in manifest["stages"]

    monkeypatch.setattr(training.ResumableCheckpoint, "on_epoch_end", original)
    result = invoke("train", "--config", config, "--name", run_dir)
    assert result.exit_code == 0, result
    assert f"resuming training of {run_dir} after epoch 2" in result.stdout
    history = pd.read_csv(run_dir / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3, 4]
    assert history["elapsed_seconds"].is_monotonic_increasing
    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 4 and len(state["history"]) == 4
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"]["train"]["epochs_run"] == 4
    assert (run_dir / "model.keras").is_file()


def test_changed_train_config_starts_over(featurized: tuple[Path, Path]) -> None:
    config, run_dir = featurized
    assert (
        invoke("train", "--config", config, "--name", run_dir, "--set", "train.epochs=1", "--force").exit_code
        == 0
    )
    result = invoke("train", "--config", config, "--name", run_dir, "--set", "train.epochs=2", "--force")
    assert result.exit_code == 0, result
    assert "resuming" not in result.stdout
    assert pd.read_csv(run_dir / "history.csv")["epoch"].tolist() == [1, 2]


def test_forced_train_trains_again(tfidf_run: Path, run_copy) -> None:
    run_dir = run_copy(tfidf_run)
    state_path = run_dir / "checkpoints" / "state.json"
    before = state_path.stat().st_mtime_ns
    result = invoke("train", "--config", run_dir / "config.toml", "--name", run_dir, "--force")
    assert result.exit_code == 0, result
    assert "resuming" not in result.stdout
    assert state_path.stat().st_mtime_ns != before
