"""Test accuracy against training seconds, for the benchmark's 'time to reach' figures.

During training the callback only snapshots the weights (to files, `per_epoch` times per epoch, always at an
epoch's end); the test set is scored on each snapshot after training (`score`), once the row has read its
peak memory. So the sampling adds neither time nor memory to the training it describes, and the test set is
scored whole, in batches of similar length (as long as the longest review of each batch).

The clock is training seconds: time within the epochs (steps, the epoch-end validation) less the time taken
by the snapshots. With `epoch_seconds`, the pipeline's own cumulative seconds after each epoch (history.csv
`elapsed_seconds`, which count the snapshots taken inside an epoch), an epoch's end is placed at exactly the
pipeline's figure less those snapshots, so the last point equals the row's reported training seconds.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import keras
import numpy as np


class TestAccuracyCurve(keras.callbacks.Callback):
    """Snapshots the weights `per_epoch` times per epoch (always at its end) into `directory`."""

    def __init__(self, directory: Path, steps_per_epoch: int, per_epoch: int = 4):
        super().__init__()
        self.directory = Path(directory)
        # Mid-epoch snapshots after these steps, evenly spread (the epoch's end is always one).
        spread = (round(k * steps_per_epoch / per_epoch) for k in range(1, per_epoch))
        self.sample_steps = {step for step in spread if 0 < step < steps_per_epoch}
        # One entry per snapshot: epoch index, seconds into the epoch (snapshots excluded), epoch end or not.
        self.points: list[tuple[int, float, bool]] = []
        self.excluded: list[float] = []  # per epoch: seconds of its mid-epoch snapshots

    def on_train_begin(self, logs=None):
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True)
        self.points, self.excluded = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.epoch_started = epoch, time.perf_counter()
        self.excluded.append(0.0)

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 in self.sample_steps:
            self._snapshot(end=False)

    def on_epoch_end(self, epoch, logs=None):
        self._snapshot(end=True)

    def _snapshot(self, end: bool) -> None:
        now = time.perf_counter()
        self.points.append((self.epoch, now - self.epoch_started - self.excluded[-1], end))
        self.model.save_weights(self._path(len(self.points) - 1))
        if not end:  # an epoch-end snapshot comes after the pipeline has read its epoch's time
            self.excluded[-1] += time.perf_counter() - now

    def _path(self, index: int) -> Path:
        return self.directory / f"{index:03d}.weights.h5"

    @property
    def snapshot_seconds(self) -> float:
        """Seconds the mid-epoch snapshots took (inside the pipeline's epoch times)."""
        return sum(self.excluded)

    def seconds(self, epoch_seconds: list[float] | None = None) -> list[float]:
        """Training seconds at each snapshot. `epoch_seconds`: the pipeline's cumulative seconds after each
        epoch (snapshots included); without it, the callback's own clock (epoch ends included)."""
        ends, done = [], 0.0
        for epoch, offset, end in self.points:
            if end:
                done = (
                    epoch_seconds[epoch] - sum(self.excluded[: epoch + 1]) if epoch_seconds else done + offset
                )
                ends.append(done)
        out = []
        for epoch, offset, end in self.points:
            start = ends[epoch - 1] if epoch else 0.0
            out.append(ends[epoch] if end else start + offset)
        return out

    def score(
        self, model, x_test, y_test, epoch_seconds: list[float] | None = None, predict=None
    ) -> list[tuple[float, float]]:
        """(training seconds, test accuracy) per snapshot, the weights loaded into `model` in turn and the
        test set scored by `predict(model, x_test)` (default `predict_probabilities`); then the snapshot
        files are removed."""
        predict = predict or predict_probabilities
        curve = []
        for index, seconds in enumerate(self.seconds(epoch_seconds)):
            model.load_weights(self._path(index))
            probs = np.asarray(predict(model, x_test))
            predicted = probs.argmax(1) if probs.shape[1] > 1 else (probs[:, 0] >= 0.5).astype(int)
            curve.append((round(seconds, 1), float((predicted == np.asarray(y_test)).mean())))
        shutil.rmtree(self.directory, ignore_errors=True)
        return curve


def predict_probabilities(model, x, batch_size: int = 64) -> np.ndarray:
    """model.predict over `x` in its own row order. Id sequences go through in order of length, in batches
    cut to their longest row (`make_batches`), so a batch of short reviews is not padded to the longest
    review of the set (right-padded ids: what `make_batches` trims); sparse rows go through as they are."""
    from pipeline.sentiment.train import make_batches  # noqa: PLC0415

    if hasattr(x, "tocsr"):
        return np.asarray(
            model.predict(make_batches(x, None, batch_size, training=False, bucket=False, seed=0), verbose=0)
        )
    x = np.asarray(x)
    order = np.argsort((x != 0).sum(axis=1), kind="stable")
    batches = make_batches(x[order], None, batch_size, training=False, bucket=False, seed=0)
    sorted_probs = np.asarray(model.predict(batches, verbose=0))
    probs = np.empty_like(sorted_probs)
    probs[order] = sorted_probs
    return probs
