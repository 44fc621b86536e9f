"""Learning-rate schedules of our own (serialisable, backend-agnostic: keras.ops only)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pipeline")
class SlantedTriangular(keras.optimizers.schedules.LearningRateSchedule):
    """ULMFiT's slanted triangular learning rate (Howard & Ruder 2018, eq. 3): a short linear rise from
    `max_rate / ratio` to `max_rate` over the first `cut_fraction` of `total_steps`, then a long linear fall
    back to `max_rate / ratio` at the last step.

    Example:
    >>> schedule = SlantedTriangular(0.01, total_steps=100)
    >>> [round(float(schedule(step)), 5) for step in (0, 10, 100)]
    [0.00031, 0.01, 0.00031]
    """

    def __init__(self, max_rate: float, total_steps: int, cut_fraction: float = 0.1, ratio: float = 32.0):
        if total_steps < 1 or not 0.0 < cut_fraction < 1.0 or ratio < 1.0:
            raise ValueError(
                f"SlantedTriangular needs total_steps >= 1, 0 < cut_fraction < 1 and ratio >= 1; got "
                f"{total_steps}, {cut_fraction}, {ratio}"
            )
        self.max_rate = float(max_rate)
        self.total_steps = int(total_steps)
        self.cut_fraction = float(cut_fraction)
        self.ratio = float(ratio)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        cut = max(1.0, float(int(self.total_steps * self.cut_fraction)))
        rise = step / cut
        fall = 1.0 - (step - cut) / max(1.0, self.total_steps - cut)
        share = ops.clip(ops.where(step < cut, rise, fall), 0.0, 1.0)
        return self.max_rate * (1.0 + share * (self.ratio - 1.0)) / self.ratio

    def get_config(self) -> dict:
        return {
            "max_rate": self.max_rate,
            "total_steps": self.total_steps,
            "cut_fraction": self.cut_fraction,
            "ratio": self.ratio,
        }
