"""train.lr_horizon = "time_budget" (pipeline.budget_horizon): a decaying schedule is fitted to the steps the
time budget allows, the compiled step really uses the new length, and it is saved with the checkpoint.

The clock is fake (test_training_budget's: a callback advances it one second per batch and per validation), so
nothing depends on machine speed.
Under a constant gradient, SGD moves the one weight by the learning rate of each step, so the trained weight
is the sum of the rates that the compiled training step used."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import pytest

from models.schedules import SlantedTriangular
from pipeline import training
from pipeline.budget_horizon import (
    BudgetHorizon,
    check_horizon,
    schedule_length,
    set_schedule_length,
    steps_within_budget,
)
from pipeline.errors import PipelineError
from pipeline.optimizers import make_optimizer
from pipeline.training import fit, new_state, progress_record
from tests.test_training_budget import _Batches, _Clock, _Tick

STEPS, EPOCHS, BUDGET = 10, 20, 50.0  # 11 s an epoch (10 batches + a validation): stops after 45 steps


@pytest.fixture(autouse=True)
def _no_tensorboard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(training, "tensorboard_callbacks", lambda log_dir: [])


def _train_cfg(**changes) -> dict:
    return {
        "optimizer": "sgd",
        "learning_rate": 1.0,
        "lr_schedule": "cosine",
        "epochs": EPOCHS,
        "max_seconds": BUDGET,
        "lr_horizon": "time_budget",
        **changes,
    }


def _fit(run_path: Path, lr_horizon: str) -> dict:
    """One weight, x = 1, y = 1000 under mean absolute error: every step's gradient is -1."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")(inputs))
    model.compile(optimizer=make_optimizer(_train_cfg(lr_horizon=lr_horizon), STEPS), loss="mae")
    x, y = np.ones((STEPS * 4, 1), "float32"), np.full((STEPS * 4, 1), 1000.0, "float32")
    clock = _Clock()
    return fit(
        model,
        _Batches(x, y, 4),
        _Batches(x[:4], y[:4], 4),
        run_path=run_path,
        key="k",
        epochs=EPOCHS,
        patience=0,
        max_seconds=BUDGET,
        verbose=0,
        callbacks=[_Tick(clock, train=1.0, valid=1.0)],
        clock=clock,
        lr_horizon=lr_horizon,
    )


def _cosine(step: int, length: int) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * min(step, length) / length))


def test_the_schedule_ends_with_the_budget_and_the_compiled_step_uses_it(tmp_path: Path) -> None:
    state = _fit(tmp_path, "time_budget")
    assert state["steps_run"] == 45 and state["stopped_by"] == "time_budget"
    # before epoch 2: 10 steps took 11 s with the validation, 39 s left buy 35 more steps
    assert state["lr_horizon_steps"] == 45
    assert progress_record(state)["lr_horizon_steps"] == 45
    expected = sum(_cosine(step, 200) for step in range(10)) + sum(
        _cosine(step, 45) for step in range(10, 45)
    )
    weight = float(state["model"].get_weights()[0][0, 0])
    assert weight == pytest.approx(expected, rel=1e-5)
    assert _cosine(44, 45) < 0.002  # the last step ran at almost no rate
    last = keras.saving.load_model(tmp_path / "checkpoints" / "last.keras", safe_mode=True)
    assert schedule_length(last.optimizer._learning_rate) == 45  # a resumed fit goes on with it


def test_the_epochs_horizon_keeps_the_planned_length(tmp_path: Path) -> None:
    state = _fit(tmp_path, "epochs")
    assert state["steps_run"] == 45 and "lr_horizon_steps" not in state
    assert "lr_horizon_steps" not in progress_record(state)
    weight = float(state["model"].get_weights()[0][0, 0])
    assert weight == pytest.approx(sum(_cosine(step, 200) for step in range(45)), rel=1e-5)


def test_steps_within_budget_uses_the_last_epoch_and_the_seconds_left() -> None:
    state = new_state("k")
    assert steps_within_budget(state, 100.0, 0.0, 0.0) is None  # nothing measured yet
    state["history"] = [{"epoch": 1, "steps": 10, "elapsed_seconds": 20.0}]
    state["steps_run"] = 10
    assert steps_within_budget(state, 100.0, 20.0, 20.0) == 10 + 40  # 2 s a step, 80 s left
    assert steps_within_budget(state, 100.0, 120.0, 20.0) == 10  # past the budget: no more


def test_several_workers_agree_on_the_slowest_seconds() -> None:
    state = new_state("k")
    state.update(
        history=[{"epoch": 1, "steps": 10, "elapsed_seconds": 10.0}],
        steps_run=10,
        train_seconds=10.0,
        planned_epochs=100,
        planned_steps_per_epoch=10,
    )
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=make_optimizer(_train_cfg(max_seconds=100.0, epochs=100), 10), loss="mse")
    callback = BudgetHorizon(state, 100.0, agree=lambda seconds: 2 * seconds)  # another worker is 2x slower
    callback.set_model(model)
    callback.on_epoch_begin(1)
    assert state["lr_horizon_steps"] == 10 + int((100.0 - 20.0) / 2.0)
    assert schedule_length(model.optimizer._learning_rate) == 50


def test_every_decaying_schedule_can_be_shortened() -> None:
    for name, cls in (
        ("cosine", keras.optimizers.schedules.CosineDecay),
        ("linear", keras.optimizers.schedules.PolynomialDecay),
        ("slanted_triangular", SlantedTriangular),
    ):
        schedule = make_optimizer(_train_cfg(lr_schedule=name), STEPS)._learning_rate
        assert isinstance(schedule, cls) and schedule_length(schedule) == EPOCHS * STEPS
        set_schedule_length(schedule, 33)
        assert schedule_length(schedule) == 33
        assert float(schedule(33)) < 0.05  # at its end: the floor (slanted triangular: max_rate / 32)
        assert schedule.get_config()["total_steps" if name == "slanted_triangular" else "decay_steps"] == 33


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"max_seconds": 0.0}, "needs train.max_seconds > 0"),
        ({"lr_schedule": "constant"}, "needs a decaying train.lr_schedule"),
        ({"lr_horizon": "budget"}, "unknown train.lr_horizon 'budget'"),
    ],
)
def test_a_horizon_that_cannot_apply_is_refused(changes: dict, fragment: str) -> None:
    with pytest.raises(PipelineError, match=fragment):
        check_horizon(_train_cfg(**changes))
    with pytest.raises(PipelineError, match=fragment):
        make_optimizer(_train_cfg(**changes), STEPS)
