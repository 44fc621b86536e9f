"""Gradual unfreezing really freezes: the groups not yet thawed get no gradient (their Adam moments stay at
zero), one more group thaws per epoch, and every layer is trainable again whenever the model is saved.
Backend-agnostic: tests/test_models_under_jax.py runs this file again under JAX."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from models.gradual_unfreezing import GradualUnfreezing, unfreezing_callbacks
from models.layerwise import layerwise_optimizer
from models.saving import load_model

DEPTHS = {"lstm_0": 1, "embedding": 2}
ROWS, BATCH = 16, 8  # two steps per epoch


def _model(unfreeze_every: int = ROWS // BATCH) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(6,), dtype="int32")
    x = keras.layers.Embedding(30, 4, name="embedding")(inputs)
    x = keras.layers.LSTM(4, name="lstm_0")(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="output")(x))
    optimizer = layerwise_optimizer("adam", DEPTHS, 2.6, unfreeze_every, learning_rate=0.01)
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    return model


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(1, 30, size=(ROWS, 6)).astype("int32"), rng.integers(0, 2, size=(ROWS, 1)).astype(
        "float32"
    )


def _moments_moved(model: keras.Model) -> set[str]:
    """The layers whose Adam first moments are not all zero."""
    optimizer = model.optimizer
    moved = set()
    for layer in model.layers:
        for variable in layer.trainable_weights:
            moment = optimizer._momentums[optimizer._get_variable_index(variable)]
            if np.any(keras.ops.convert_to_numpy(moment) != 0):
                moved.add(layer.name)
    return moved


class _Record(keras.callbacks.Callback):
    """Per epoch: the layers frozen during it, the layers whose weights moved and whose moments moved."""

    def __init__(self) -> None:
        super().__init__()
        self.frozen, self.moved, self.moments = [], [], []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.frozen.append(
            {layer.name for layer in self.model.layers if layer.weights and not layer.trainable}
        )
        self._before = {layer.name: [np.array(w) for w in layer.get_weights()] for layer in self.model.layers}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.moved.append(
            {
                layer.name
                for layer in self.model.layers
                if any(
                    not np.array_equal(a, b)
                    for a, b in zip(self._before[layer.name], layer.get_weights(), strict=True)
                )
            }
        )
        self.moments.append(_moments_moved(self.model))


def test_frozen_groups_get_no_gradient_and_thaw_one_per_epoch() -> None:
    model, record = _model(), _Record()
    model.fit(
        *_data(),
        batch_size=BATCH,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[GradualUnfreezing(), record],
    )
    assert record.frozen == [{"lstm_0", "embedding"}, {"embedding"}, set()]
    assert record.moved == [{"output"}, {"output", "lstm_0"}, {"output", "lstm_0", "embedding"}]
    # the step mask alone would have let the frozen layers' gradients into their moments
    assert record.moments == record.moved
    assert all(layer.trainable for layer in model.layers)


def test_the_optimizer_holds_every_variable_and_a_saved_run_resumes(tmp_path: Path) -> None:
    model = _model()
    x, y = _data()
    model.fit(
        x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=unfreezing_callbacks(model)
    )
    assert len(model.optimizer._trainable_variables) == len(model.weights)
    model.save(tmp_path / "m.keras")
    resumed = load_model(tmp_path / "m.keras")
    assert all(layer.trainable for layer in resumed.layers)
    assert int(keras.ops.convert_to_numpy(resumed.optimizer.iterations)) == ROWS // BATCH
    record = _Record()
    callbacks = [*unfreezing_callbacks(resumed), record]
    resumed.fit(
        x, y, batch_size=BATCH, epochs=2, initial_epoch=1, shuffle=False, verbose=0, callbacks=callbacks
    )
    assert record.frozen == [{"embedding"}]
    assert record.moved == [{"output", "lstm_0"}]


def test_frozen_layers_follow_the_step_and_only_gradual_unfreezing_adds_the_callback() -> None:
    optimizer = _model(unfreeze_every=5).optimizer
    assert [optimizer.frozen_layers(step) for step in (0, 4, 5, 9, 10)] == [
        {"lstm_0", "embedding"},
        {"lstm_0", "embedding"},
        {"embedding"},
        {"embedding"},
        set(),
    ]
    assert unfreezing_callbacks(_model(unfreeze_every=0)) == []
