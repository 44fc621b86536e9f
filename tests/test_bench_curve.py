"""bench/curve.py (weight snapshots scored after training, on the pipeline's clock) and bench/common.py."""

from __future__ import annotations

import time

import keras
import numpy as np
import pytest

from bench import curve as bench_curve
from bench.common import fmt, md_row, md_table


class EpochClock(keras.callbacks.Callback):
    """Times the epochs the way the pipeline's ResumableCheckpoint does: cumulative seconds at each end."""

    def __init__(self):
        super().__init__()
        self.elapsed: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.elapsed.append((self.elapsed[-1] if self.elapsed else 0.0) + time.perf_counter() - self.started)


def _data(rows: int = 96, width: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, width + 1, size=rows)
    x = np.zeros((rows, width), dtype=np.int32)
    for i, length in enumerate(lengths):
        x[i, :length] = rng.integers(1, 30, size=length)
    return x, (x[:, 0] % 2).astype(np.int32)


def _model():
    inputs = keras.Input(shape=(None,), dtype="int32")
    h = keras.layers.Embedding(30, 8, mask_zero=True)(inputs)
    h = keras.layers.GlobalAveragePooling1D()(h)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(h))
    model.compile("adam", "binary_crossentropy")
    return model


class SlowSteps(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.01)


def test_curve_clock_is_the_pipelines_less_the_snapshots(tmp_path):
    x, y = _data()
    model = _model()
    clock = EpochClock()
    curve = bench_curve.TestAccuracyCurve(tmp_path / "snapshots", steps_per_epoch=12, per_epoch=4)
    model.fit(x, y, batch_size=8, epochs=2, callbacks=[clock, SlowSteps(), curve], verbose=0)
    assert len(curve.points) == 8 and sum(end for _, _, end in curve.points) == 2
    scored = curve.score(model, x, y, epoch_seconds=clock.elapsed)
    seconds = [s for s, _ in scored]
    assert seconds == sorted(seconds) and len(scored) == 8
    # The last point is the pipeline's training time less the mid-epoch snapshots.
    assert seconds[-1] == pytest.approx(clock.elapsed[-1] - curve.snapshot_seconds, abs=0.06)
    assert seconds[3] == pytest.approx(clock.elapsed[0] - curve.excluded[0], abs=0.06)
    assert all(0.0 <= accuracy <= 1.0 for _, accuracy in scored)
    assert not (tmp_path / "snapshots").exists()  # scored snapshots are removed


def test_curve_scores_the_snapshot_weights(tmp_path):
    x, y = _data()
    model = _model()
    curve = bench_curve.TestAccuracyCurve(tmp_path / "snapshots", steps_per_epoch=12, per_epoch=1)
    model.fit(x, y, batch_size=8, epochs=1, callbacks=[curve], verbose=0)
    final = float(((model.predict(x, verbose=0)[:, 0] >= 0.5) == y).mean())
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    (_, accuracy), *_ = curve.score(model, x, y)
    assert accuracy == pytest.approx(final)


def test_curve_samples_exactly_per_epoch_times(tmp_path):
    x, y = _data(rows=100)  # 13 batches of 8: the last one short
    model = _model()
    curve = bench_curve.TestAccuracyCurve(tmp_path / "snapshots", steps_per_epoch=13, per_epoch=4)
    model.fit(x, y, batch_size=8, epochs=2, callbacks=[curve], verbose=0)
    assert len(curve.points) == 8 and [end for _, _, end in curve.points].count(True) == 2


def test_predict_probabilities_keeps_the_row_order():
    x, _ = _data(rows=50)
    model = _model()
    expected = model.predict(x, batch_size=50, verbose=0)
    np.testing.assert_allclose(
        bench_curve.predict_probabilities(model, x, batch_size=7), expected, rtol=1e-5, atol=1e-6
    )


def test_markdown_helpers():
    assert md_row("a", 1, None) == "| a | 1 | None |"
    assert md_table("x | y") == ["| x | y |", "|---|---|"]
    assert fmt(None) == "-" and fmt(0.12345) == "0.1235" and fmt(3.7, ".0f") == "4"
