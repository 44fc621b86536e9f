"""Test accuracy against training seconds, sampled several times per epoch, for 'time to reach' figures.

The clock runs from the start of training and leaves out the time spent here (predicting the test set), so
it counts exactly what training costs: the steps, plus whatever else the run does at epoch ends (validation,
checkpoints).
"""

from __future__ import annotations

import time

import keras
import numpy as np


class TestAccuracyCurve(keras.callbacks.Callback):
    """Appends (training seconds, test accuracy) `per_epoch` times per epoch (always at its end)."""

    def __init__(self, test_data, y_test: np.ndarray, steps_per_epoch: int, per_epoch: int = 4):
        super().__init__()
        self.test_data, self.y_test = test_data, np.asarray(y_test)
        self.every = max(1, steps_per_epoch // per_epoch)
        self.steps_per_epoch = steps_per_epoch
        self.curve: list[tuple[float, float]] = []

    def on_train_begin(self, logs=None):
        self.started, self.excluded = time.time(), 0.0

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0 and batch + 1 < self.steps_per_epoch:
            self._sample()

    def on_epoch_end(self, epoch, logs=None):
        self._sample()

    def _sample(self) -> None:
        now = time.time()
        probs = np.asarray(self.model.predict(self.test_data, verbose=0))
        predicted = probs.argmax(1) if probs.shape[1] > 1 else (probs[:, 0] >= 0.5).astype(int)
        self.curve.append(
            (round(now - self.started - self.excluded, 1), float((predicted == self.y_test).mean()))
        )
        self.excluded += time.time() - now
