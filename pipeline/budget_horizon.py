"""train.lr_horizon = "time_budget": a decaying learning-rate schedule planned over the steps the time budget
will allow, not over train.epochs.

A cosine (or linear, or slanted triangular) schedule decays to its floor at train.epochs x steps per epoch.
When train.max_seconds stops the run first, as it does on a slow machine, the rate never comes down and the
last weights are those of a run still at a high rate. With this horizon, the schedule's length is estimated
again before each epoch from the last finished epoch's seconds per step (validation included): the steps
run so far plus what the seconds left will buy, never more than the planned epochs' steps. The compiled
training step reads the schedule's length when it is traced, so a changed length retraces it once
(`make_train_function(force=True)`, which both the TensorFlow and the JAX trainer read before each step).
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from models.schedules import SlantedTriangular
from pipeline.errors import PipelineError

HORIZONS = ("epochs", "time_budget")
DECAYING = ("cosine", "linear", "slanted_triangular")
RETRACE_CHANGE = 0.01  # a new length within 1% of the current one is not worth a retrace


def check_horizon(train_cfg: dict) -> str:
    """train.lr_horizon, refused where it cannot mean anything."""
    horizon = train_cfg.get("lr_horizon", "epochs")
    if horizon not in HORIZONS:
        raise PipelineError(f"unknown train.lr_horizon '{horizon}'; known: {', '.join(HORIZONS)}")
    if horizon == "time_budget":
        if not train_cfg.get("max_seconds"):
            raise PipelineError("train.lr_horizon = 'time_budget' needs train.max_seconds > 0")
        if train_cfg["lr_schedule"] not in DECAYING:
            raise PipelineError(
                f"train.lr_horizon = 'time_budget' needs a decaying train.lr_schedule "
                f"({', '.join(DECAYING)}), not '{train_cfg['lr_schedule']}'"
            )
    return horizon


def schedule_length(schedule: object) -> int | None:
    """The number of steps over which one of our schedules decays, or None for anything else."""
    if isinstance(schedule, SlantedTriangular):
        return schedule.total_steps
    if isinstance(
        schedule, keras.optimizers.schedules.CosineDecay | keras.optimizers.schedules.PolynomialDecay
    ):
        return int(schedule.decay_steps)
    return None


def set_schedule_length(schedule: object, steps: int) -> None:
    """Make `schedule` decay over `steps` steps (it saves the new length in its config)."""
    if isinstance(schedule, SlantedTriangular):
        schedule.total_steps = int(steps)
    else:
        schedule.decay_steps = int(steps)


def steps_within_budget(state: dict, max_seconds: float, elapsed: float, epoch_seconds: float) -> int | None:
    """The steps the budget allows in all: those run so far, plus the seconds left at the last finished
    epoch's rate (its seconds, validation included, over its steps); None before an epoch has finished."""
    history = state["history"]
    if not history or not history[-1].get("steps"):
        return None
    per_step = epoch_seconds / history[-1]["steps"]
    if per_step <= 0:
        return None
    return int(state["steps_run"] + max(0.0, max_seconds - elapsed) / per_step)


class BudgetHorizon(keras.callbacks.Callback):
    """Before each epoch after the first, shorten the optimizer's schedule to the steps the time budget
    allows (`steps_within_budget`, at most the planned epochs' steps), and record it as
    state["lr_horizon_steps"] (`state`: pipeline.training's, kept by its ResumableCheckpoint).
    `agree` (several workers in lock-step) makes every worker use the slowest one's seconds, so all of them
    pick the same length."""

    def __init__(
        self,
        state: dict,
        max_seconds: float,
        agree: Callable[[float], float] | None = None,
    ):
        super().__init__()
        self.state = state
        self.max_seconds = max_seconds
        self.agree = agree or (lambda seconds: seconds)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        schedule = getattr(self.model.optimizer, "_learning_rate", None)
        current = schedule_length(schedule)
        history = self.state["history"]
        if current is None or not history:
            return
        before = history[-2]["elapsed_seconds"] if len(history) > 1 else 0.0
        epoch_seconds = self.agree(history[-1]["elapsed_seconds"] - before)
        allowed = steps_within_budget(
            self.state, self.max_seconds, self.agree(self.state["train_seconds"]), epoch_seconds
        )
        if allowed is None:
            return
        per_epoch, epochs = self.state.get("planned_steps_per_epoch"), self.state.get("planned_epochs")
        planned = per_epoch * epochs if per_epoch and epochs else None
        length = max(1, min(allowed, planned) if planned else allowed)
        self.state["lr_horizon_steps"] = length
        if abs(length - current) > RETRACE_CHANGE * current:
            set_schedule_length(schedule, length)
            self.model.make_train_function(force=True)
