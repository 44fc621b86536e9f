"""pipeline.training: the time budget is checked between batches; a partly trained epoch is validated and kept;
the state says how far training got and why it stopped; Keras writes one line per epoch into a log.

The clock is fake: a callback advances it by a fixed time per batch, so no test depends on machine speed."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from pipeline import training
from pipeline.training import (
    ResumableCheckpoint,
    fit,
    keras_verbose,
    load_resume_state,
    new_state,
    progress_record,
    progress_summary,
)

STEPS = 10  # batches per epoch


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Tick(keras.callbacks.Callback):
    """Advances the fake clock: `train` seconds per training batch, `valid` per validation pass; counts
    training batches."""

    def __init__(self, clock: _Clock, train: float = 1.0, valid: float = 0.0):
        super().__init__()
        self.clock, self.train, self.valid = clock, train, valid
        self.batches = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.clock.now += self.train
        self.batches += 1

    def on_test_begin(self, logs=None):
        self.clock.now += self.valid


class _Batches(keras.utils.PyDataset):
    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self) -> int:
        return len(self.x) // self.batch_size

    def __getitem__(self, i: int):
        rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[rows], self.y[rows]


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("float32")


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy")
    return model


@pytest.fixture(autouse=True)
def _no_tensorboard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(training, "tensorboard_callbacks", lambda log_dir: [])


def _fit(run_path: Path, clock: _Clock, tick: _Tick, **kwargs) -> dict:
    options = {"epochs": 3, "patience": 0, "max_seconds": 0.0, "verbose": 0, **kwargs}
    return fit(
        _model(),
        _Batches(*_data(8 * STEPS, 1), 8),
        _Batches(*_data(32, 2), 16),
        run_path=run_path,
        key="k",
        callbacks=[tick],
        clock=clock,
        **options,
    )


def test_budget_passed_mid_epoch_stops_in_that_epoch_and_keeps_it(tmp_path: Path) -> None:
    clock = _Clock()
    tick = _Tick(clock, train=1.0)  # 10 s an epoch; the budget runs out after 5 batches of epoch 2
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        state = _fit(tmp_path, clock, tick, max_seconds=15.0)
    assert "time budget (15 s) reached in epoch 2 after 5 of 10 steps; validated and kept" in out.getvalue()
    history = state["history"]
    assert [(row["epoch"], row["steps"], row["partial"]) for row in history] == [(1, 10, False), (2, 5, True)]
    assert tick.batches == 15
    assert all("val_loss" in row for row in history)  # the partial epoch was validated too
    assert history[1]["val_loss"] < history[0]["val_loss"]
    assert state["best_epoch"] == 2  # ... and, as the best so far, kept
    last = keras.models.load_model(tmp_path / "checkpoints" / "last.keras")
    for kept, trained in zip(state["model"].get_weights(), last.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, trained)
    assert progress_record(state) == {
        "planned_epochs": 3,
        "epochs_run": 2,
        "epochs_complete": 1,
        "epochs_trained": 1.5,
        "steps_run": 15,
        "planned_steps": 30,
        "stopped_by": "time_budget",
        "train_seconds": 15.0,
        "max_seconds": 15.0,
    }
    assert progress_summary(state) == (
        "stopped by the time budget (15 s) in epoch 2 of 3 (1 complete), 15 of 30 steps, 15 s"
    )
    saved = json.loads((tmp_path / "checkpoints" / "state.json").read_text())
    assert saved["stopped_by"] == "time_budget" and saved["steps_run"] == 15


def test_a_resume_after_a_budget_stop_trains_no_further(tmp_path: Path) -> None:
    clock = _Clock()
    _fit(tmp_path, clock, _Tick(clock), max_seconds=15.0)
    again = _Tick(clock)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        state = _fit(tmp_path, clock, again, max_seconds=15.0)
    assert again.batches == 0
    assert state["epoch"] == 2 and state["steps_run"] == 15 and state["stopped_by"] == "time_budget"
    assert "not training further: stopped by the time budget (15 s)" in out.getvalue()


def test_the_budget_leaves_time_to_validate(tmp_path: Path) -> None:
    """After the first epoch the budget keeps back the last validation's time: the partial epoch's own
    validation then ends within the budget."""
    clock = _Clock()
    tick = _Tick(clock, train=1.0, valid=4.0)  # epoch 1: 10 s of batches + 4 s validation = 14 s
    state = _fit(tmp_path, clock, tick, max_seconds=20.0)
    assert state["validation_seconds"] == 4.0
    assert [row["steps"] for row in state["history"]] == [10, 2]  # 14 + 2 + 4 = 20
    assert state["train_seconds"] == 20.0 and state["stopped_by"] == "time_budget"


def test_a_budget_spent_at_an_epoch_end_stops_there(tmp_path: Path) -> None:
    clock = _Clock()
    tick = _Tick(clock, train=1.0)
    state = _fit(tmp_path, clock, tick, max_seconds=10.0)  # passed on the epoch's last batch
    assert [(row["steps"], row["partial"]) for row in state["history"]] == [(10, False)]
    assert state["stopped_by"] == "time_budget" and state["epochs_complete"] == 1
    assert (
        progress_summary(state)
        == "stopped by the time budget (10 s) after 1 of 3 epochs, 10 of 30 steps, 10 s"
    )


def test_a_fit_without_budget_runs_every_epoch(tmp_path: Path) -> None:
    clock = _Clock()
    state = _fit(tmp_path, clock, _Tick(clock), epochs=2)
    assert [row["partial"] for row in state["history"]] == [False, False]
    record = progress_record(state)
    assert record["stopped_by"] == "epochs" and record["steps_run"] == record["planned_steps"] == 20
    assert progress_summary(state) == "trained all 2 epochs, 20 of 20 steps, 20 s"


def test_early_stopping_is_recorded(tmp_path: Path) -> None:
    model = keras.Model(*(lambda i: (i, keras.layers.Dense(1)(i)))(keras.Input(shape=(2,))))
    state = new_state("k")
    state["planned_epochs"] = 5
    checkpoint = ResumableCheckpoint(tmp_path, patience=1, max_seconds=0.0, state=state, clock=_Clock())
    checkpoint.set_model(model)
    for epoch, loss in enumerate([0.5, 0.6]):
        checkpoint.on_epoch_begin(epoch)
        checkpoint.on_epoch_end(epoch, {"val_loss": loss})
    assert state["stopped_by"] == "early_stopping" and model.stop_training
    assert progress_summary(state).startswith("stopped early (no val_loss improvement) after 2 of 5 epochs")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {
                "epoch": 1,
                "epochs_complete": 1,
                "steps_run": 412,
                "stopped_by": "time_budget",
                "train_seconds": 61.2,
            },
            "stopped by the time budget (60 s) after 1 of 3 epochs, 412 of 1,203 steps, 61 s",
        ),
        (
            {
                "epoch": 2,
                "epochs_complete": 1,
                "steps_run": 612,
                "stopped_by": "time_budget",
                "train_seconds": 75,
            },
            "stopped by the time budget (60 s) in epoch 2 of 3 (1 complete), 612 of 1,203 steps, 75 s",
        ),
        (
            {
                "epoch": 3,
                "epochs_complete": 3,
                "steps_run": 1203,
                "stopped_by": "epochs",
                "train_seconds": 3001,
            },
            "trained all 3 epochs, 1,203 of 1,203 steps, 3,001 s",
        ),
        (
            {"epoch": 2, "epochs_complete": 2, "steps_run": 802, "stopped_by": None, "train_seconds": 9},
            "trained 2 of 3 epochs so far, 802 of 1,203 steps, 9 s",
        ),
    ],
)
def test_progress_summary_wording(fields: dict, expected: str) -> None:
    state = {
        **new_state("k"),
        "planned_epochs": 3,
        "planned_steps_per_epoch": 401,
        "max_seconds": 60.0,
        **fields,
    }
    assert progress_summary(state) == expected


def test_an_old_state_gets_the_progress_fields(tmp_path: Path) -> None:
    old = {
        k: v
        for k, v in new_state("k").items()
        if k in ("key", "epoch", "monitor", "best_value", "best_epoch")
    }
    old.update(epoch=2, wait=0, history=[{"epoch": 1}, {"epoch": 2}], train_seconds=5.0)
    (tmp_path / "state.json").write_text(json.dumps(old))
    (tmp_path / "last.keras").write_text("")
    state = load_resume_state(tmp_path, "k")
    assert state["epochs_complete"] == 2 and state["steps_run"] == 0 and state["stopped_by"] is None


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("configured", "tty", "expected"),
    [(1, True, 1), (1, False, 2), (0, False, 0), (0, True, 0), (2, True, 2), (2, False, 2)],
)
def test_keras_verbosity_follows_the_terminal(
    monkeypatch: pytest.MonkeyPatch, configured: int, tty: bool, expected: int
) -> None:
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys, "stdout", _Stream(tty))
    assert keras_verbose(configured) == expected


def test_a_redirected_fit_logs_one_line_per_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    clock = _Clock()
    log = io.StringIO()  # not a terminal
    with contextlib.redirect_stdout(log):
        _fit(tmp_path, clock, _Tick(clock), epochs=3, verbose=1)
    text = log.getvalue()
    assert "\r" not in text and "\b" not in text
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("Epoch ")] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    metrics = [line for line in lines if "val_loss" in line]
    assert len(metrics) == 3 and all(line.startswith(f"{STEPS}/{STEPS} ") for line in metrics)
    assert len(lines) == 6, lines


def test_with_several_workers_the_budget_is_agreed_at_epoch_ends(tmp_path: Path) -> None:
    """`agree` (the collective max over workers) replaces the per-batch check: no epoch is cut short, and
    every worker stops after the epoch in which the slowest one passed the budget."""
    clock = _Clock()
    seen: list[float] = []

    def slowest_worker(elapsed: float) -> float:  # another worker is 4 s behind this one's clock
        seen.append(elapsed)
        return elapsed + 4.0

    state = _fit(tmp_path, clock, _Tick(clock, train=1.0), max_seconds=15.0, agree=slowest_worker)
    assert [(row["epoch"], row["steps"], row["partial"]) for row in state["history"]] == [
        (1, 10, False),
        (2, 10, False),
    ]
    assert seen == [10.0, 20.0] and state["stopped_by"] == "time_budget"


def test_a_resumed_fit_replays_the_finished_epochs_reshuffles(tmp_path: Path) -> None:
    clock = _Clock()
    _fit(tmp_path, clock, _Tick(clock), epochs=2)
    calls: list[int] = []
    _fit(tmp_path, clock, _Tick(clock), epochs=3, reshuffle=lambda: calls.append(1))
    assert calls == [1, 1]  # two finished epochs: the batches' order is where an uninterrupted fit had it
