"""[train] optimizer controls: the slanted triangular schedule (serialisable, ULMFiT's shape) and
train.clipnorm (the gradients' global norm clipped), each through pipeline.optimizers and a saved run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pytest

from models.saving import load_model
from models.schedules import SlantedTriangular
from pipeline.config import DEFAULTS, resolve_config
from pipeline.optimizers import learning_rate, make_optimizer
from tests.conftest import invoke, write_config, write_reviews


def _train_cfg(**values) -> dict:
    return {**DEFAULTS["train"], **values}


def test_slanted_triangular_rises_fast_then_falls_slowly() -> None:
    schedule = learning_rate(_train_cfg(lr_schedule="slanted_triangular", learning_rate=0.01, epochs=2), 50)
    assert isinstance(schedule, SlantedTriangular) and schedule.total_steps == 100
    rates = np.array([float(schedule(step)) for step in range(101)])
    assert rates[0] == pytest.approx(0.01 / 32) and rates[100] == pytest.approx(0.01 / 32)
    assert int(rates.argmax()) == 10 and rates.max() == pytest.approx(0.01)  # the peak at 10% of the steps
    assert (np.diff(rates[:11]) > 0).all() and (np.diff(rates[10:]) < 0).all()
    # ULMFiT eq. 3 at a step of the fall: p = 1 - (t - cut) / (cut (1/cut_frac - 1))
    p = 1 - (55 - 10) / (10 * (1 / 0.1 - 1))
    assert rates[55] == pytest.approx(0.01 * (1 + p * 31) / 32)


def test_slanted_triangular_round_trips_through_keras_serialisation() -> None:
    schedule = SlantedTriangular(0.003, total_steps=40, cut_fraction=0.2, ratio=8)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(restored, SlantedTriangular) and restored.get_config() == schedule.get_config()
    with pytest.raises(ValueError, match="cut_fraction"):
        SlantedTriangular(0.1, total_steps=10, cut_fraction=1.5)


def test_clipnorm_clips_the_global_gradient_norm() -> None:
    optimizer = make_optimizer(_train_cfg(optimizer="sgd", learning_rate=1.0, clipnorm=1.0), 10)
    assert optimizer.global_clipnorm == 1.0 and optimizer.clipnorm is None
    variables = [keras.Variable(np.zeros(2, "float32")), keras.Variable(np.zeros(1, "float32"))]
    gradients = [np.array([3.0, 0.0], "float32"), np.array([4.0], "float32")]  # global norm 5
    optimizer.apply(gradients, variables)
    np.testing.assert_allclose(variables[0].numpy(), [-0.6, 0.0], rtol=1e-6)  # scaled by 1/5 together
    np.testing.assert_allclose(variables[1].numpy(), [-0.8], rtol=1e-6)
    assert make_optimizer(_train_cfg(), 10).global_clipnorm is None  # 0 = no clipping


def test_a_run_with_both_trains_and_its_model_loads_in_safe_mode(tmp_path: Path) -> None:
    data = write_reviews(tmp_path / "reviews.csv", n=80)
    train = {"lr_schedule": "slanted_triangular", "clipnorm": 1.0}
    config = write_config(tmp_path / "c.toml", data, train=train)
    result = invoke("run", "--config", config, "--name", tmp_path / "run")
    assert result.exit_code == 0, result
    model = load_model(tmp_path / "run" / "model.keras")  # safe_mode, the schedule registered
    assert isinstance(model.optimizer._learning_rate, SlantedTriangular)
    assert model.optimizer.global_clipnorm == 1.0


def test_the_new_keys_leave_older_runs_current() -> None:
    """train.clipnorm, discriminative_lr, unfreeze and lr_horizon are `later` keys: at their defaults they stay out of
    every train stage's key."""
    from pipeline.language_model.train import KEY as LM_KEY  # noqa: PLC0415
    from pipeline.sentiment.train import KEY as SENTIMENT_KEY  # noqa: PLC0415
    from pipeline.translation.train import KEY as TRANSLATION_KEY  # noqa: PLC0415

    manifest = {"stages": {"featurize": {"status": "done", "outputs": {}}}}
    for key_spec, task in (
        (SENTIMENT_KEY, "sentiment"),
        (LM_KEY, "language_model"),
        (TRANSLATION_KEY, "translation"),
    ):
        config = resolve_config({"task": task})
        before = dataclasses.replace(key_spec, later=())  # the spec as it was before the key existed
        assert key_spec.key(config, manifest) == before.key(config, manifest), task
        for name, value in (
            ("clipnorm", 1.0),
            ("discriminative_lr", 2.6),
            ("unfreeze", "gradual"),
            ("lr_horizon", "time_budget"),
        ):
            changed = {**config, "train": {**config["train"], name: value}}
            assert key_spec.key(changed, manifest) != before.key(changed, manifest), (task, name)


def _two_layer_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4,))
    x = keras.layers.Dense(3, name="embedding")(inputs)
    x = keras.layers.Dense(3, name="lstm_0")(x)
    return keras.Model(inputs, keras.layers.Dense(1, name="output")(x))


def _one_step(optimizer) -> dict[str, np.ndarray]:
    """The change of each layer's kernel after one SGD step on a fixed batch."""
    model = _two_layer_model()
    before = {layer.name: np.array(layer.kernel) for layer in model.layers[1:]}
    model.compile(optimizer=optimizer, loss="mse")
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.normal(size=(8, 4)), rng.normal(size=(8, 1)))
    return {layer.name: np.array(layer.kernel) - before[layer.name] for layer in model.layers[1:]}


def test_discriminative_rates_divide_each_lower_groups_step() -> None:
    depths = {"lstm_0": 1, "embedding": 2}
    plain = _one_step(make_optimizer(_train_cfg(optimizer="sgd", learning_rate=0.1), 10))
    layered = _one_step(
        make_optimizer(_train_cfg(optimizer="sgd", learning_rate=0.1, discriminative_lr=2.6), 10, depths)
    )
    np.testing.assert_allclose(layered["output"], plain["output"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(layered["lstm_0"], plain["lstm_0"] / 2.6, rtol=1e-3, atol=1e-7)
    np.testing.assert_allclose(layered["embedding"], plain["embedding"] / 2.6**2, rtol=1e-3, atol=1e-7)
    assert np.abs(plain["embedding"]).min() > 0


def test_gradual_unfreezing_thaws_one_group_per_epoch() -> None:
    """Steps per epoch 2: the head alone for steps 0-1, then lstm_0, then the embedding from step 4."""
    model = _two_layer_model()
    cfg = _train_cfg(optimizer="adam", learning_rate=0.01, unfreeze="gradual")
    model.compile(optimizer=make_optimizer(cfg, 2, {"lstm_0": 1, "embedding": 2}), loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4)), rng.normal(size=(8, 1))
    moved = []
    for _ in range(6):
        before = {layer.name: np.array(layer.kernel) for layer in model.layers[1:]}
        model.train_on_batch(x, y)
        moved.append({n for n, k in before.items() if not np.array_equal(k, model.get_layer(n).kernel)})
    assert moved == [{"output"}] * 2 + [{"output", "lstm_0"}] * 2 + [{"output", "lstm_0", "embedding"}] * 2


def test_the_layerwise_optimizer_saves_and_loads_in_safe_mode(tmp_path: Path) -> None:
    model = _two_layer_model()
    cfg = _train_cfg(optimizer="rmsprop", discriminative_lr=2.0, unfreeze="gradual")
    model.compile(optimizer=make_optimizer(cfg, 3, {"lstm_0": 1, "embedding": 2}), loss="mse")
    model.train_on_batch(np.ones((2, 4)), np.ones((2, 1)))
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras").optimizer
    assert type(loaded).__name__ == "LayerwiseRMSprop"
    assert (loaded.decay, loaded.unfreeze_every, loaded.layer_depths) == (
        2.0,
        3,
        {"lstm_0": 1, "embedding": 2},
    )
    assert int(loaded.iterations) == 1


@pytest.mark.parametrize(
    "values, depths, fragment",
    [
        ({"discriminative_lr": 2.6}, None, "applies to sentiment classifiers only"),
        ({"unfreeze": "gradual"}, {}, "needs a model with an encoder"),
        ({"discriminative_lr": 2.6, "optimizer": "adamw"}, {"lstm_0": 1}, "not 'adamw'"),
    ],
)
def test_layerwise_settings_are_refused_where_they_cannot_apply(values, depths, fragment) -> None:
    from pipeline.errors import PipelineError  # noqa: PLC0415

    with pytest.raises(PipelineError, match=fragment):
        make_optimizer(_train_cfg(**values), 10, depths)
