"""Fitting a compiled Keras model with early stopping, a time budget checked between batches, best weights,
resumable checkpoints, history.csv and TensorBoard logs. An interrupted fit resumes from the last finished
epoch with the optimizer state; progress_record / progress_summary say how far training got and why it
stopped."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from data.atomic import write_json, write_with
from data.progress import is_interactive
from models.gradual_unfreezing import unfreezing_callbacks
from models.saving import load_model
from pipeline.budget_horizon import BudgetHorizon


class ResumableCheckpoint(keras.callbacks.Callback):
    """After every epoch: save the full model (with optimizer) as last.keras, the best-so-far weights on
    the `monitor` metric (val_loss: lower is better; val_accuracy: higher), the history so far and the
    early-stopping state; stop early after `patience` epochs without improvement.

    The time budget `max_seconds` (0 = none) is checked after every batch: once the training time so far,
    plus the time the last validation took, reaches it, training stops after that batch. Keras then still
    validates the partly trained epoch and calls on_epoch_end, so that epoch is checkpointed like any other
    (its weights kept as the best when they are) and recorded in the history with its `steps` and
    `partial` = True. `clock` (seconds, monotonic) is injectable for tests.

    With `agree` (several workers training in lock-step), the budget is checked at the end of each epoch
    instead, on the largest training time of all workers (`agree` is that collective), so every worker stops
    after the same epoch; an epoch is then never cut short."""

    def __init__(
        self,
        directory: Path,
        patience: int,
        max_seconds: float,
        state: dict,
        monitor: str = "val_loss",
        clock: Callable[[], float] = time.monotonic,
        agree: Callable[[float], float] | None = None,
    ):
        super().__init__()
        self.agree = agree
        self.directory = Path(directory)
        self.monitor = monitor
        self.patience = patience
        self.max_seconds = max_seconds
        self.state = state
        self.clock = clock
        self._epoch_start = 0.0
        self._epoch_steps = 0
        self._last_batch_end: float | None = None
        self._budget_stop = False

    def on_train_begin(self, logs: dict | None = None) -> None:
        steps = (self.params or {}).get("steps")
        if steps:
            self.state["planned_steps_per_epoch"] = int(steps)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = self.clock()
        self._epoch_steps = 0
        self._last_batch_end = None
        self._budget_stop = False

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        steps = int(batch) + 1  # `batch` is the last step the call ran (steps_per_execution may be > 1)
        self.state["steps_run"] += steps - self._epoch_steps
        self._epoch_steps = steps
        now = self._last_batch_end = self.clock()
        if self.agree is None and self._budget_spent(self.state["train_seconds"] + now - self._epoch_start):
            self._budget_stop = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        now = self.clock()
        if self._last_batch_end is not None:
            self.state["validation_seconds"] = round(now - self._last_batch_end, 3)
        self.state["train_seconds"] += now - self._epoch_start
        planned_steps = self.state.get("planned_steps_per_epoch")
        if planned_steps:
            partial = self._epoch_steps < planned_steps
        else:  # an iterator of unknown length: a full epoch tells how long one is
            partial = self._budget_stop
            if not partial and self._epoch_steps:
                self.state["planned_steps_per_epoch"] = planned_steps = self._epoch_steps
        logs = {key: float(value) for key, value in (logs or {}).items()}
        self.state["history"].append(
            {
                "epoch": epoch + 1,
                **logs,
                "steps": self._epoch_steps,
                "partial": partial,
                "elapsed_seconds": round(self.state["train_seconds"], 2),
            }
        )
        value = logs.get(self.monitor, logs.get(self.monitor.removeprefix("val_")))
        best = self.state["best_value"]
        if best is None or (value < best if self.monitor.endswith("loss") else value > best):
            self.state.update(best_value=value, best_epoch=epoch + 1, wait=0)
            write_with(self.directory / "best.weights.h5", self.model.save_weights)
        else:
            self.state["wait"] += 1
        self.state["epoch"] = epoch + 1
        self.state["epochs_complete"] += not partial
        self.state["stopped_by"] = self._stop_reason(epoch + 1, partial)
        if self.state["stopped_by"] is not None:
            self.model.stop_training = True
        write_with(self.directory / "last.keras", self.model.save)
        write_json(self.directory / "state.json", self.state)

    def on_train_end(self, logs: dict | None = None) -> None:
        last = self.state["history"][-1] if self.state["history"] else None
        if last and last.get("partial") and self.state["stopped_by"] == STOPPED_BY_BUDGET:
            # Keras's progress line shows the epoch's full step count; say how far it really got
            planned = self.state.get("planned_steps_per_epoch")
            print(
                f"time budget ({self.max_seconds:,.0f} s) reached in epoch {last['epoch']} after "
                f"{last['steps']:,}{f' of {planned:,}' if planned else ''} steps; validated and kept"
            )

    def _budget_spent(self, elapsed: float) -> bool:
        """Whether `elapsed` seconds of training, plus one more validation pass, reach the budget."""
        return bool(self.max_seconds) and elapsed + self.state["validation_seconds"] >= self.max_seconds

    def _stop_reason(self, epochs_done: int, partial: bool) -> str | None:
        if partial:  # only the budget cuts an epoch short
            return STOPPED_BY_BUDGET
        planned = self.state.get("planned_epochs")
        if planned and epochs_done >= planned:
            return STOPPED_BY_EPOCHS
        if self.patience and self.state["wait"] >= self.patience:
            return STOPPED_EARLY
        elapsed = self.state["train_seconds"]
        if self.agree is not None and self.max_seconds:
            elapsed = self.agree(elapsed)
        if self._budget_stop or self._budget_spent(elapsed):
            return STOPPED_BY_BUDGET
        return None


STOPPED_BY_EPOCHS = "epochs"  # every planned epoch ran
STOPPED_EARLY = "early_stopping"  # `patience` epochs without improvement on the monitored metric
STOPPED_BY_BUDGET = "time_budget"  # train.max_seconds ran out


def new_state(key: str, monitor: str = "val_loss") -> dict:
    """The training state before the first epoch (saved as checkpoints/state.json after each one).

    `epoch` counts the epochs that ended, the last one possibly cut short by the time budget (`resume`
    starts after it); `epochs_complete` only those whose every step ran; `steps_run` the optimizer steps of
    all of them, over resumed sessions too; `stopped_by` is None until training ends, then one of
    "epochs", "early_stopping", "time_budget"."""
    return {
        "key": key,
        "epoch": 0,
        "monitor": monitor,
        "best_value": None,
        "best_epoch": None,
        "wait": 0,
        "history": [],
        "train_seconds": 0.0,
        "planned_epochs": None,
        "planned_steps_per_epoch": None,
        "max_seconds": 0.0,
        "epochs_complete": 0,
        "steps_run": 0,
        "validation_seconds": 0.0,
        "stopped_by": None,
    }


def load_resume_state(directory: Path, key: str) -> dict | None:
    """The saved state of an interrupted fit with the same stage key, or None. A state saved before the
    progress fields existed gets them (its epochs counted as complete, their steps unknown: 0)."""
    state_path = directory / "state.json"
    if not state_path.is_file() or not (directory / "last.keras").is_file():
        return None
    saved = json.loads(state_path.read_text(encoding="utf-8"))
    if saved.get("key") != key:
        return None
    state = new_state(key, saved.get("monitor", "val_loss"))
    state["epochs_complete"] = saved.get("epoch", 0)
    state.update(saved)
    return state


def keras_verbose(verbose: int) -> int:
    """Keras's fit verbosity for train.verbose: 1 (live bars) is a live progress bar on a terminal but one
    line per epoch (Keras's 2) when stdout is a file or pipe, where the bar's per-step carriage-return
    updates would pile up; 0 and 2 stay."""
    if verbose == 1 and not is_interactive(sys.stdout):
        return 2
    return verbose


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
    clock: Callable[[], float] = time.monotonic,
    reshuffle: Callable[[], None] | None = None,
    agree: Callable[[float], float] | None = None,
    lr_horizon: str = "epochs",
) -> dict:
    """Fit with checkpoints in `run_path/checkpoints` (resuming an interrupted fit with the same `key`),
    restore the best weights, and return the training state (history, best epoch, seconds, progress: see
    new_state, progress_record). Extra `callbacks` run after the checkpoint's, outside the measured training
    time. A fit that stopped (early, or on its time budget) is not resumed: it is finished. `reshuffle`
    (the training batches' end-of-epoch reshuffle) is called once per finished epoch before a resumed fit,
    so it sees the batch orders an uninterrupted one would; `agree`: see ResumableCheckpoint. `lr_horizon` =
    "time_budget" fits the optimizer's schedule to the steps `max_seconds` allows (pipeline.budget_horizon)."""
    checkpoints = run_path / "checkpoints"
    state = load_resume_state(checkpoints, key) if resume else None
    if state is None:
        shutil.rmtree(checkpoints, ignore_errors=True)
        checkpoints.mkdir(parents=True)
        state = new_state(key, monitor)
    else:
        for stale in checkpoints.glob(".tmp-*"):  # a write cut short by a killed process
            stale.unlink()
        model = load_model(checkpoints / "last.keras")
        print(f"resuming training of {run_path} after epoch {state['epoch']}")
        for _ in range(state["epoch"] if reshuffle is not None else 0):
            reshuffle()
    state.update(planned_epochs=epochs, max_seconds=float(max_seconds or 0.0))
    checkpoint = ResumableCheckpoint(
        checkpoints, patience, max_seconds, state, monitor, clock=clock, agree=agree
    )
    done = (
        state["stopped_by"] is not None
        or (patience and state["wait"] >= patience)
        or (max_seconds and state["train_seconds"] >= max_seconds)
    )
    if state["epoch"] < epochs and not done:
        horizon = [BudgetHorizon(state, max_seconds, agree)] if lr_horizon == "time_budget" else []
        callbacks = [
            *unfreezing_callbacks(model),  # before the checkpoint: it thaws every layer before a save
            checkpoint,
            *horizon,
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
            verbose=keras_verbose(verbose),
        )
    elif state["epoch"] < epochs:
        print(f"not training further: {progress_summary(state)}")
    if state["stopped_by"] is None and state["epoch"] >= epochs:
        state["stopped_by"] = STOPPED_BY_EPOCHS
    if state["best_epoch"] is not None:
        model.load_weights(checkpoints / "best.weights.h5")
    state["model"] = model
    return state


def progress_record(state: dict) -> dict:
    """How far training got, for the train stage's manifest entry: planned_epochs, epochs_run (epochs
    trained, a last one cut short by the time budget included), epochs_complete, epochs_trained (steps_run
    in epochs, fractional: for throughputs), steps_run, planned_steps (None when an epoch's length is
    unknown), stopped_by, train_seconds, max_seconds (0 = no budget)."""
    steps_per_epoch = state.get("planned_steps_per_epoch")
    planned_epochs = state.get("planned_epochs")
    return {
        "planned_epochs": planned_epochs,
        "epochs_run": state["epoch"],
        "epochs_complete": state.get("epochs_complete", state["epoch"]),
        "epochs_trained": (
            round(state["steps_run"] / steps_per_epoch, 3)
            if steps_per_epoch and state.get("steps_run")
            else state["epoch"]
        ),
        "steps_run": state.get("steps_run", 0),
        "planned_steps": steps_per_epoch * planned_epochs if steps_per_epoch and planned_epochs else None,
        "stopped_by": state.get("stopped_by"),
        "train_seconds": round(state["train_seconds"], 2),
        "max_seconds": state.get("max_seconds", 0.0),
        **({"lr_horizon_steps": state["lr_horizon_steps"]} if state.get("lr_horizon_steps") else {}),
    }


def progress_summary(state: dict) -> str:
    """One line on how far training got and why it stopped, e.g. "stopped by the time budget (60 s) in
    epoch 2 of 3 (1 complete), 612 of 1,203 steps, 61 s"."""
    record = progress_record(state)
    planned, run, complete = record["planned_epochs"], record["epochs_run"], record["epochs_complete"]
    steps = f"{record['steps_run']:,}"
    if record["planned_steps"]:
        steps += f" of {record['planned_steps']:,}"
    tail = f"{steps} steps, {record['train_seconds']:,.0f} s"
    of_planned = f" of {planned}" if planned else ""
    if run > complete:  # the last epoch was cut short
        epochs = f"in epoch {run}{of_planned} ({complete} complete)"
    else:
        epochs = f"after {run}{of_planned} epoch{'s' if (planned or run) != 1 else ''}"
    reason = record["stopped_by"]
    if reason == STOPPED_BY_EPOCHS:
        return f"trained all {run} epoch{'s' if run != 1 else ''}, {tail}"
    if reason == STOPPED_EARLY:
        return f"stopped early (no {state.get('monitor', 'val_loss')} improvement) {epochs}, {tail}"
    if reason == STOPPED_BY_BUDGET:
        return f"stopped by the time budget ({record['max_seconds']:,.0f} s) {epochs}, {tail}"
    return f"trained {run}{of_planned} epochs so far, {tail}"


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
    **options: Any,
) -> dict:
    """`fit` with the epochs, patience, time limit and verbosity of a run's [train] table (a forced stage
    starts over instead of resuming); `options` (reshuffle, agree) go to `fit`."""
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
        lr_horizon=train_cfg.get("lr_horizon", "epochs"),
        **options,
    )


def save_trained_model(run_path: Path, state: dict) -> keras.Model:
    """Take the fitted model out of `state` and write model.keras, history.csv and curves.png."""
    from pipeline.plots import plot_training_curves  # noqa: PLC0415 - matplotlib only when needed

    model = state.pop("model")
    write_with(run_path / "model.keras", model.save)
    history = history_frame(state)
    write_with(run_path / "history.csv", lambda tmp: history.to_csv(tmp, index=False))
    curves = history.drop(columns=["steps", "partial"], errors="ignore")  # bookkeeping, not curves
    plot_training_curves(curves, run_path / "curves.png", title=f"{run_path.name}: training curves")
    return model


def tensorboard_callbacks(log_dir: Path) -> list:
    """Keras's TensorBoard callback (it writes through tf.summary), or none where TensorFlow is absent,
    as on a JAX-only machine."""
    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("tensorboard") is None:
        print("note: TensorFlow/TensorBoard not installed; no TensorBoard logs for this run")
        return []
    return [keras.callbacks.TensorBoard(log_dir=str(log_dir))]


def history_frame(state: dict) -> pd.DataFrame:
    """The per-epoch history as a DataFrame (epoch, loss, accuracy, val_loss, ..., steps, partial,
    elapsed_seconds; `partial` marks an epoch the time budget cut short after `steps` steps)."""
    return pd.DataFrame(state["history"])


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the backend."""
    keras.utils.set_random_seed(seed)
    np.random.seed(seed)


def weights_checksum(model: keras.Model) -> str:
    """The first 16 hex digits of the SHA-256 of every weight's bytes, in the model's order."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]
