"""Gradual unfreezing that really freezes (ULMFiT, Howard & Ruder 2018, section 3.3).

The layerwise optimizer (`models.layerwise`) masks the step of a group that is not thawed yet, but the
gradients of those layers are still computed: the head-only epoch costs as much as a full one. This callback
sets `trainable = False` on the layers `optimizer.frozen_layers(step)` names at the start of each epoch and
rebuilds the train function, so their backward pass is not computed at all; between epochs (when
checkpoints are saved) every layer is trainable again, so a saved model and its optimizer always hold every
variable. The optimizer is built over all the model's variables before the first freeze.
"""

from __future__ import annotations

import keras
from keras import ops


class GradualUnfreezing(keras.callbacks.Callback):
    """Freeze, per epoch, the layers the model's layerwise optimizer has not thawed yet."""

    def __init__(self) -> None:
        super().__init__()
        self.frozen: set[str] = set()  # the layers frozen for the current epoch

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._set_frozen(set())
        optimizer = self.model.optimizer
        if not optimizer.built:
            optimizer.build(self.model.trainable_variables)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        step = int(ops.convert_to_numpy(self.model.optimizer.iterations))
        self._set_frozen(self.model.optimizer.frozen_layers(step))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._set_frozen(set())

    def on_train_end(self, logs: dict | None = None) -> None:
        self._set_frozen(set())

    def _set_frozen(self, names: set[str]) -> None:
        """Freeze exactly `names` (thaw the rest); rebuild the train function when that changes anything."""
        layers = {layer.name: layer for layer in self.model.layers}
        changed = False
        for name in names | self.frozen:
            layer = layers.get(name)
            if layer is not None and layer.trainable != (name not in names):
                layer.trainable = name not in names
                changed = True
        self.frozen = set(names)
        if changed:
            self.model.make_train_function(force=True)


def unfreezing_callbacks(model: keras.Model) -> list[keras.callbacks.Callback]:
    """[GradualUnfreezing()] when `model`'s optimizer unfreezes gradually, else []."""
    return [GradualUnfreezing()] if getattr(model.optimizer, "unfreeze_every", 0) else []
