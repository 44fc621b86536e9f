"""Global max pooling over the real (non-padding) time steps.

Keras's own `GlobalAveragePooling1D` already honours the Keras mask (it averages only unmasked steps), so
the masked mean is that layer; `GlobalMaxPooling1D` ignores the mask, hence this layer.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pipeline")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Maximum over time of a (batch, steps, features) tensor, skipping masked (padding) steps.

    A sequence whose steps are all masked pools to zeros.

    Args:
        **kwargs: standard layer arguments (`name`, `dtype`).

    Example:
    >>> pooled = MaskedGlobalMaxPooling1D()(np.ones((2, 5, 3)), mask=np.arange(5) < np.array([[5], [2]]))
    >>> pooled.shape
    TensorShape([2, 3])
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        step_mask = ops.expand_dims(ops.cast(mask, "bool"), axis=-1)
        lowest = ops.cast(float("-inf"), inputs.dtype)
        pooled = ops.max(ops.where(step_mask, inputs, lowest), axis=1)
        has_steps = ops.any(step_mask, axis=1)
        return ops.where(has_steps, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape) -> tuple:
        return (input_shape[0], input_shape[2])
