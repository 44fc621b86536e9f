"""The last real (non-padding) time step of each sequence: a recurrent encoder's final state."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pipeline")
class MaskedLastStep(keras.layers.Layer):
    """The step at index (number of unmasked steps - 1) of a (batch, steps, features) tensor whose padding is
    on the right; without a mask, the last step. A sequence whose steps are all masked gives its first step.

    Example:
    >>> states = np.arange(12, dtype="float32").reshape(2, 3, 2)
    >>> MaskedLastStep()(states, mask=np.array([[True, True, False], [True, True, True]])).numpy().tolist()
    [[2.0, 3.0], [10.0, 11.0]]
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return inputs[:, -1, :]
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
        index = ops.maximum(lengths - 1, 0)
        index = ops.reshape(index, (-1, 1, 1))
        return ops.take_along_axis(inputs, index, axis=1)[:, 0, :]

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape) -> tuple:
        return (input_shape[0], input_shape[2])
