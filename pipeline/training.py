"""Fitting a compiled Keras model with early stopping, best weights, resumable checkpoints, history.csv and
TensorBoard logs. An interrupted fit resumes from the last finished epoch with the optimizer state."""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from data.atomic import write_json, write_with
from models.saving import load_model


class ResumableCheckpoint(keras.callbacks.Callback):
    """After every epoch: save the full model (with optimizer) as last.keras, the best-so-far weights on
    the `monitor` metric (val_loss: lower is better; val_accuracy: higher), the history so far and the
    early-stopping state; stop early after `patience` epochs without improvement or once `max_seconds` of
    training have passed."""

    def __init__(
        self, directory: Path, patience: int, max_seconds: float, state: dict, monitor: str = "val_loss"
    ):
        super().__init__()
        self.directory = Path(directory)
        self.monitor = monitor
        self.patience = patience
        self.max_seconds = max_seconds
        self.state = state
        self._epoch_start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = time.time()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {key: float(value) for key, value in (logs or {}).items()}
        self.state["train_seconds"] += time.time() - self._epoch_start
        self.state["history"].append(
            {"epoch": epoch + 1, **logs, "elapsed_seconds": round(self.state["train_seconds"], 2)}
        )
        value = logs.get(self.monitor, logs.get(self.monitor.removeprefix("val_")))
        best = self.state["best_value"]
        if best is None or (value < best if self.monitor.endswith("loss") else value > best):
            self.state.update(best_value=value, best_epoch=epoch + 1, wait=0)
            write_with(self.directory / "best.weights.h5", self.model.save_weights)
        else:
            self.state["wait"] += 1
        self.state["epoch"] = epoch + 1
        write_with(self.directory / "last.keras", self.model.save)
        write_json(self.directory / "state.json", self.state)
        if self.patience and self.state["wait"] >= self.patience:
            self.model.stop_training = True
        if self.max_seconds and self.state["train_seconds"] >= self.max_seconds:
            self.model.stop_training = True


def new_state(key: str, monitor: str = "val_loss") -> dict:
    """The training state before the first epoch (saved as checkpoints/state.json after each one)."""
    return {
        "key": key,
        "epoch": 0,
        "monitor": monitor,
        "best_value": None,
        "best_epoch": None,
        "wait": 0,
        "history": [],
        "train_seconds": 0.0,
    }


def load_resume_state(directory: Path, key: str) -> dict | None:
    """The saved state of an interrupted fit with the same stage key, or None."""
    state_path = directory / "state.json"
    if not state_path.is_file() or not (directory / "last.keras").is_file():
        return None
    state = json.loads(state_path.read_text(encoding="utf-8"))
    return state if state.get("key") == key else None


def fit(
    model: keras.Model,
    train_data: Any,
    valid_data: Any,
    *,
    run_path: Path,
    key: str,
    epochs: int,
    patience: int,
    max_seconds: float = 0.0,
    verbose: int = 1,
    resume: bool = True,
    callbacks: list | None = None,
    monitor: str = "val_loss",
) -> dict:
    """Fit with checkpoints in `run_path/checkpoints` (resuming an interrupted fit with the same `key`),
    restore the best weights, and return the training state (history, best epoch, seconds). Extra
    `callbacks` run after the checkpoint's, outside the measured training time."""
    checkpoints = run_path / "checkpoints"
    state = load_resume_state(checkpoints, key) if resume else None
    if state is None:
        shutil.rmtree(checkpoints, ignore_errors=True)
        checkpoints.mkdir(parents=True)
        state = new_state(key, monitor)
    else:
        model = load_model(checkpoints / "last.keras")
        print(f"resuming training of {run_path} after epoch {state['epoch']}")
    checkpoint = ResumableCheckpoint(checkpoints, patience, max_seconds, state, monitor)
    done = (patience and state["wait"] >= patience) or (max_seconds and state["train_seconds"] >= max_seconds)
    if state["epoch"] < epochs and not done:
        callbacks = [
            checkpoint,
            *tensorboard_callbacks(run_path / "tensorboard"),
            *(callbacks or []),
        ]
        model.fit(
            train_data,
            validation_data=valid_data,
            epochs=epochs,
            initial_epoch=state["epoch"],
            shuffle=False,  # the batches shuffle themselves, each epoch
            callbacks=callbacks,
            verbose=verbose,
        )
    if state["best_epoch"] is not None:
        model.load_weights(checkpoints / "best.weights.h5")
    state["model"] = model
    return state


def fit_configured(
    model: keras.Model,
    train_data: Any,
    valid_data: Any,
    *,
    run_path: Path,
    key: str,
    train_cfg: dict,
    force: bool,
    callbacks: list | None,
    monitor: str,
) -> dict:
    """`fit` with the epochs, patience, time limit and verbosity of a run's [train] table (a forced stage
    starts over instead of resuming)."""
    if train_cfg["verbose"]:
        model.summary(print_fn=lambda line, **_: print(line))
    return fit(
        model,
        train_data,
        valid_data,
        run_path=run_path,
        key=key,
        epochs=train_cfg["epochs"],
        patience=train_cfg["patience"],
        max_seconds=train_cfg["max_seconds"],
        verbose=train_cfg["verbose"],
        resume=not force,
        callbacks=callbacks,
        monitor=monitor,
    )


def save_trained_model(run_path: Path, state: dict) -> keras.Model:
    """Take the fitted model out of `state` and write model.keras, history.csv and curves.png."""
    from pipeline.plots import plot_training_curves  # noqa: PLC0415 - matplotlib only when needed

    model = state.pop("model")
    write_with(run_path / "model.keras", model.save)
    history = history_frame(state)
    write_with(run_path / "history.csv", lambda tmp: history.to_csv(tmp, index=False))
    plot_training_curves(history, run_path / "curves.png", title=f"{run_path.name}: training curves")
    return model


def tensorboard_callbacks(log_dir: Path) -> list:
    """Keras's TensorBoard callback (it writes through tf.summary), or none where TensorFlow is absent,
    as on a JAX-only machine."""
    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("tensorboard") is None:
        print("note: TensorFlow/TensorBoard not installed; no TensorBoard logs for this run")
        return []
    return [keras.callbacks.TensorBoard(log_dir=str(log_dir))]


def history_frame(state: dict) -> pd.DataFrame:
    """The per-epoch history as a DataFrame (epoch, loss, accuracy, val_loss, ..., elapsed_seconds)."""
    return pd.DataFrame(state["history"])


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the backend."""
    keras.utils.set_random_seed(seed)
    np.random.seed(seed)
