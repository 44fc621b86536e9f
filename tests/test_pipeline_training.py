"""pipeline.training: the best epoch follows train.monitor; early stopping counts epochs without improvement."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from pipeline.training import ResumableCheckpoint, new_state


def _tiny_model() -> keras.Model:
    inputs = keras.Input(shape=(2,))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))


@pytest.mark.parametrize(
    ("monitor", "expected_best"),
    [("val_loss", 2), ("val_accuracy", 3)],
)
def test_best_epoch_follows_the_monitor(tmp_path: Path, monitor: str, expected_best: int) -> None:
    checkpoint = ResumableCheckpoint(
        tmp_path, patience=0, max_seconds=0.0, state=new_state("k", monitor), monitor=monitor
    )
    checkpoint.set_model(_tiny_model())
    epochs = [(0.50, 0.70), (0.40, 0.75), (0.45, 0.80), (0.48, 0.78)]  # (val_loss, val_accuracy)
    for epoch, (loss, accuracy) in enumerate(epochs):
        checkpoint.on_epoch_begin(epoch)
        checkpoint.on_epoch_end(epoch, {"loss": 0.1, "val_loss": loss, "val_accuracy": accuracy})
    assert checkpoint.state["best_epoch"] == expected_best
    assert checkpoint.state["best_value"] == epochs[expected_best - 1][0 if monitor == "val_loss" else 1]
    assert [row["epoch"] for row in checkpoint.state["history"]] == [1, 2, 3, 4]
    assert (tmp_path / "best.weights.h5").is_file() and (tmp_path / "last.keras").is_file()


def test_patience_stops_after_epochs_without_improvement(tmp_path: Path) -> None:
    model = _tiny_model()
    checkpoint = ResumableCheckpoint(tmp_path, patience=2, max_seconds=0.0, state=new_state("k"))
    checkpoint.set_model(model)
    for epoch, loss in enumerate([0.5, 0.6, 0.7]):
        model.stop_training = False
        checkpoint.on_epoch_begin(epoch)
        checkpoint.on_epoch_end(epoch, {"val_loss": loss})
    assert checkpoint.state["wait"] == 2 and model.stop_training
    assert np.isclose(checkpoint.state["best_value"], 0.5)
