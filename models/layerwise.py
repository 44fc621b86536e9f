"""Per-layer learning rates and gradual unfreezing (ULMFiT, Howard & Ruder 2018, sections 3.2 and 3.3).

`layerwise_optimizer(name, layer_depths, decay, unfreeze_every, **kwargs)` makes a Keras optimizer whose step
for a variable of a layer at depth d (0 = the head; see `models.lm_classifier.encoder_layer_depths`) uses the
learning rate divided by `decay ** d` (discriminative fine-tuning), and is zero until `d * unfreeze_every`
steps have been taken (gradual unfreezing: the head alone for the first `unfreeze_every` steps, then one
more layer group each time). Frozen layers keep their weights exactly: the step is multiplied by zero.

That mask alone still computes the frozen layers' gradients, so it saves no time. During `fit`,
`models.gradual_unfreezing.GradualUnfreezing` really freezes the groups `frozen_layers(step)` names
(`trainable = False`, so no gradient is computed for them and their moments stay at rest) and thaws them
between epochs; the optimizer is built over every variable up front, and `stateless_apply` (JAX) accepts
the thawed subset, as `apply_gradients` (TensorFlow) already does.

Plain Keras optimizers underneath (Adam, SGD, RMSprop), registered for saving; everything is `keras.ops`, so
it runs under TensorFlow and JAX. AdamW is not offered: its weight decay is applied outside `update_step`.
"""

from __future__ import annotations

import keras
from keras import ops


def _layerwise(base: type) -> type:
    class Layerwise(base):
        def __init__(
            self, layer_depths: dict | None = None, decay: float = 1.0, unfreeze_every: int = 0, **kwargs
        ) -> None:
            super().__init__(**kwargs)
            if decay < 1.0 or unfreeze_every < 0:
                raise ValueError(f"decay must be >= 1 and unfreeze_every >= 0, got {decay}, {unfreeze_every}")
            self.layer_depths = {str(k): int(v) for k, v in (layer_depths or {}).items()}
            self.decay = float(decay)
            self.unfreeze_every = int(unfreeze_every)
            self._depths: list[int] = []

        def build(self, variables) -> None:
            if self.built:
                return
            super().build(variables)
            self._depths = [self.depth_of(variable) for variable in variables]

        def depth_of(self, variable) -> int:
            """The depth of the layer that owns `variable` (its path's first part); 0 when not listed."""
            return self.layer_depths.get(variable.path.split("/")[0], 0)

        def frozen_layers(self, step: int) -> set[str]:
            """The layers gradual unfreezing still holds frozen at optimizer step `step`."""
            if not self.unfreeze_every:
                return set()
            return {name for name, depth in self.layer_depths.items() if step < depth * self.unfreeze_every}

        def stateless_apply(self, optimizer_variables, grads, trainable_variables):
            """Keras's, also when only the thawed variables (those still `trainable`, in the order the
            optimizer was built with) come in, as they do while layers are frozen."""
            if len(trainable_variables) == len(self._trainable_variables):
                return super().stateless_apply(optimizer_variables, grads, trainable_variables)
            thawed = [variable for variable in self._trainable_variables if variable.trainable]
            if len(thawed) != len(trainable_variables):
                raise ValueError(
                    f"{len(trainable_variables)} variables to update, but {len(thawed)} of the "
                    f"{len(self._trainable_variables)} the optimizer was built with are trainable"
                )
            mapping = [
                *zip(thawed, trainable_variables, strict=True),
                *zip(self.variables, optimizer_variables, strict=True),
            ]
            with keras.StatelessScope(state_mapping=mapping) as scope:
                self.apply(grads, thawed)
            return (
                [scope.get_current_value(variable) for variable in thawed],
                [scope.get_current_value(variable) for variable in self.variables],
            )

        def update_step(self, gradient, variable, learning_rate):
            depth = self._depths[self._get_variable_index(variable)]
            if depth == 0:
                return super().update_step(gradient, variable, learning_rate)
            scale = ops.cast(self.decay ** (-depth), "float32")
            if self.unfreeze_every:
                thawed = ops.greater_equal(self.iterations, depth * self.unfreeze_every)
                scale = scale * ops.cast(thawed, "float32")
            rate = ops.cast(learning_rate, "float32") * scale
            return super().update_step(gradient, variable, rate)

        def get_config(self) -> dict:
            return {
                **super().get_config(),
                "layer_depths": self.layer_depths,
                "decay": self.decay,
                "unfreeze_every": self.unfreeze_every,
            }

    Layerwise.__name__ = Layerwise.__qualname__ = f"Layerwise{base.__name__}"
    return keras.saving.register_keras_serializable(package="pipeline")(Layerwise)


LayerwiseAdam = _layerwise(keras.optimizers.Adam)
LayerwiseSGD = _layerwise(keras.optimizers.SGD)
LayerwiseRMSprop = _layerwise(keras.optimizers.RMSprop)
LAYERWISE = {"adam": LayerwiseAdam, "sgd": LayerwiseSGD, "rmsprop": LayerwiseRMSprop}


def layerwise_optimizer(
    name: str, layer_depths: dict[str, int], decay: float, unfreeze_every: int, **kwargs
) -> keras.optimizers.Optimizer:
    """The `name` optimizer ("adam", "sgd" or "rmsprop") with per-depth rates and gradual unfreezing."""
    if name not in LAYERWISE:
        raise ValueError(f"per-layer rates work with {', '.join(LAYERWISE)}, not {name!r}")
    return LAYERWISE[name](layer_depths=layer_depths, decay=decay, unfreeze_every=unfreeze_every, **kwargs)
